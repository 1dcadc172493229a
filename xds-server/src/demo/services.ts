// The demo's workloads: small, honest loopback services behind the sidecars.
//   - a cache that speaks RESP (Redis' protocol): PING, GET, SET, DEL, QUIT;
//   - a payments database: a real Postgres (PGlite) behind its wire-protocol server;
//   - an HTTP reporting API: GET returns a report, POST counts the body it received.
// Each listens on 127.0.0.1 at a port the kernel picks; only its sidecar knows it.
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface DemoService {
  name: string;
  host: string;
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 at a port the kernel picks. close() drops the open connections first
 * (`dropConnections`), since a server closes only once its connections are gone.
 */
function serve(server: Server | HttpServer, name: string, accepted: () => number, dropConnections: () => void): Promise<DemoService> {
  const port = new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      if (a === null || typeof a === "string") return reject(new Error(`${name}: no address`));
      resolve(a.port);
    });
  });
  return port.then((p) => ({
    name,
    host: "127.0.0.1",
    port: p,
    accepted,
    close: () =>
      new Promise<void>((r) => {
        dropConnections();
        server.close(() => r());
      }),
  }));
}

function tcpService(name: string, onSocket: (s: Socket) => void): Promise<DemoService> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.setNoDelay(true);
    s.on("error", () => s.destroy());
    s.on("close", () => sockets.delete(s));
    onSocket(s);
  });
  return serve(server, name, () => accepted, () => {
    for (const s of sockets) s.destroy();
  });
}

// ---- RESP cache ----

/** One RESP request (an array of bulk strings) from the front of buf: its arguments and length, or undefined if incomplete. */
export function parseRespCommand(buf: Buffer): { args: Buffer[]; used: number } | undefined | "error" {
  if (buf.length === 0) return undefined;
  if (buf[0] !== 0x2a /* '*' */) return "error";
  let pos = 0;
  const line = (): number | undefined | "error" => {
    const eol = buf.indexOf("\r\n", pos);
    if (eol < 0) return buf.length - pos > 32 ? "error" : undefined;
    const n = Number(buf.subarray(pos + 1, eol).toString("latin1"));
    if (!Number.isInteger(n) || n < 0) return "error";
    pos = eol + 2;
    return n;
  };
  const count = line();
  if (count === undefined || count === "error") return count;
  const args: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    if (pos >= buf.length) return undefined;
    if (buf[pos] !== 0x24 /* '$' */) return "error";
    const len = line();
    if (len === undefined || len === "error") return len;
    if (buf.length < pos + len + 2) return undefined;
    args.push(buf.subarray(pos, pos + len));
    pos += len + 2;
  }
  return { args, used: pos };
}

const bulk = (b: Buffer | undefined): Buffer =>
  b === undefined ? Buffer.from("$-1\r\n") : Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n")]);

export function startRespCache(name = "cart-cache"): Promise<DemoService> {
  const store = new Map<string, Buffer>();
  return tcpService(name, (s) => {
    let pending = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      for (;;) {
        const cmd = parseRespCommand(pending);
        if (cmd === undefined) return;
        if (cmd === "error") {
          s.end("-ERR Protocol error: expected a RESP array of bulk strings\r\n");
          return;
        }
        pending = pending.subarray(cmd.used);
        const [verb, ...rest] = cmd.args;
        const v = verb?.toString("latin1").toUpperCase() ?? "";
        const key = rest[0]?.toString("utf8") ?? "";
        if (v === "PING") s.write(rest[0] ? bulk(rest[0]) : "+PONG\r\n");
        else if (v === "GET" && rest.length === 1) s.write(bulk(store.get(key)));
        else if (v === "SET" && rest.length === 2 && rest[1]) {
          store.set(key, Buffer.from(rest[1]));
          s.write("+OK\r\n");
        } else if (v === "DEL" && rest.length >= 1) s.write(`:${rest.filter((k) => store.delete(k.toString("utf8"))).length}\r\n`);
        else if (v === "QUIT") {
          s.end("+OK\r\n");
          return;
        } else s.write(`-ERR unknown command '${v}'\r\n`);
      }
    });
  });
}

/** A RESP request: *N then N bulk strings. */
export function respCommand(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(bulk(typeof a === "string" ? Buffer.from(a) : a));
  return Buffer.concat(parts);
}

// ---- payments database: a real Postgres ----

/**
 * PGlite (Postgres compiled to WebAssembly, in this process) behind its wire-protocol server:
 * real clients speak the real protocol to it, StartupMessage first. Seeded with the account the
 * scenario reads.
 */
export async function startPaymentsDb(name = "payments-db"): Promise<DemoService> {
  const db = await PGlite.create();
  await db.exec("CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12, 2) NOT NULL); INSERT INTO accounts VALUES (42, 1234.50);");
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 16 });
  let accepted = 0;
  server.addEventListener("connection", () => accepted++);
  await server.start();
  const port = Number(/:(\d+)$/.exec(server.getServerConn())?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${name}: no port in ${server.getServerConn()}`);
  return {
    name,
    host: "127.0.0.1",
    port,
    accepted: () => accepted,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

// ---- HTTP reporting API ----

export function startHttpService(name = "reporting-api"): Promise<DemoService> {
  let accepted = 0;
  const server = createHttpServer((req, res) => {
    let received = 0;
    req.on("data", (d: Buffer) => (received += d.length));
    req.on("end", () => {
      const body =
        req.method === "POST"
          ? JSON.stringify({ service: name, received })
          : JSON.stringify({ service: name, report: "weekly-revenue", rows: 3 });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on("connection", () => accepted++);
  return serve(server, name, () => accepted, () => server.closeAllConnections());
}
