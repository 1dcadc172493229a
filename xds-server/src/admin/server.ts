// The server's HTTP side as a listener: HTTP, or HTTPS asking for client certificates when a
// client CA is given. routes.ts says what each path answers, auth.ts who may ask.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { AdminSecurity } from "./auth.js";
import { route, send, type AdminDeps } from "./routes.js";
import { errorMessage } from "../util/index.js";

export interface AdminServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startAdmin(
  host: string,
  port: number,
  deps: AdminDeps,
  security: AdminSecurity = { requireAuth: false },
): Promise<AdminServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res, deps, security).catch((err: unknown) => {
      send(res, 500, "text/plain", `${errorMessage(err)}\n`);
    });
  };
  const t = security.tls;
  const server: Server = t
    ? createTlsServer({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: false } : {}) }, handler)
    : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

