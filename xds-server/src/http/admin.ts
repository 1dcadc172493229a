// The server's HTTP side: health, readiness, Prometheus metrics, JSON status, and the filter
// module itself (with its sha256) for proxies that load it remotely.
//
// Health, readiness and the module are open (probes and proxies need them; proxies verify the
// module by its sha256). /status and /metrics list every proxy and workload: behind a bearer
// token or a verified client certificate whenever either is configured or the server listens
// beyond loopback.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { StatusReport } from "../xds/status.js";

export const WASM_PATH = "/filter/picoseg.wasm";

export interface AdminDeps {
  /** undefined when ready, else why not (the 503 body). */
  notReady(): string | undefined;
  status(): StatusReport;
  registry: Registry;
  /** The module bytes and their sha256 (hex), or undefined when no module is available. */
  module(): { bytes: Uint8Array; sha256: string } | undefined;
}

export interface AdminSecurity {
  /** PEM material: serve HTTPS; with `ca`, ask clients for certificates verified against it. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Bearer token that opens /status and /metrics. */
  token?: string;
  /** Whether /status and /metrics need credentials (a token or a verified client certificate). */
  requireAuth: boolean;
}

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
      send(res, 500, "text/plain", `${err instanceof Error ? err.message : String(err)}\n`);
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

/** A verified client certificate (mTLS) or the bearer token. */
function authorized(req: IncomingMessage, security: AdminSecurity): boolean {
  if (!security.requireAuth) return true;
  if ((req.socket as Partial<TLSSocket>).authorized === true) return true;
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  if (!m || security.token === undefined) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(security.token);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function route(req: IncomingMessage, res: ServerResponse, deps: AdminDeps, security: AdminSecurity): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
  const url = new URL(req.url ?? "/", "http://localhost");
  if ((url.pathname === "/status" || url.pathname === "/metrics") && !authorized(req, security)) {
    res.setHeader("www-authenticate", "Bearer");
    return send(res, 401, "text/plain", "needs a bearer token or a client certificate (see --admin-token-file, --client-ca)\n");
  }
  switch (url.pathname) {
    case "/healthz":
      return send(res, 200, "text/plain", "ok\n");
    case "/readyz": {
      const why = deps.notReady();
      return why === undefined ? send(res, 200, "text/plain", "ready\n") : send(res, 503, "text/plain", `${why}\n`);
    }
    case "/metrics":
      return send(res, 200, deps.registry.contentType, await deps.registry.metrics());
    case "/status":
      return send(res, 200, "application/json", `${JSON.stringify(deps.status(), null, 2)}\n`);
    case WASM_PATH: {
      const m = deps.module();
      return m ? send(res, 200, "application/wasm", m.bytes) : send(res, 404, "text/plain", "no filter module\n");
    }
    case `${WASM_PATH}.sha256`: {
      const m = deps.module();
      return m ? send(res, 200, "text/plain", `${m.sha256}\n`) : send(res, 404, "text/plain", "no filter module\n");
    }
    default:
      return send(res, 404, "text/plain", "not found\n");
  }
}

function send(res: ServerResponse, code: number, type: string, body: string | Uint8Array): void {
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}
