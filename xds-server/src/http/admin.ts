// The server's HTTP side: health, readiness, Prometheus metrics, JSON status, and the filter
// module itself (with its sha256) for proxies that load it remotely.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
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

export interface AdminServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startAdmin(host: string, port: number, deps: AdminDeps): Promise<AdminServer> {
  const server = createServer((req, res) => {
    route(req, res, deps).catch((err: unknown) => {
      send(res, 500, "text/plain", `${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
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

async function route(req: IncomingMessage, res: ServerResponse, deps: AdminDeps): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
  const url = new URL(req.url ?? "/", "http://localhost");
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
