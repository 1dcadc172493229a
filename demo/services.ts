// The demo's workloads: small, honest loopback services behind the sidecars.
//   - a cache that speaks RESP (Redis' protocol): PING, GET, SET, DEL, QUIT;
//   - a Postgres-ish database: answers the start-up message, then echoes each framed message;
//   - an HTTP reporting API: GET returns a report, POST counts the body it received.
// Each listens on 127.0.0.1 at a port the kernel picks; only its sidecar knows it.
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";

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

// ---- Postgres-ish database ----

const PG_SSL_REQUEST = 80877103;

/** A v3.0 StartupMessage: int32 length, int32 196608, then key\0value\0 pairs and a final \0. */
export function pgStartup(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.writeUInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/** A typed message after start-up: type byte, int32 length counting itself, payload. */
export function pgMessage(type: string, payload: Buffer | string): Buffer {
  const p = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(4 + p.length, 1);
  return Buffer.concat([head, p]);
}

const PG_READY = pgMessage("Z", "I");
const PG_AUTH_OK = pgMessage("R", Buffer.from([0, 0, 0, 0]));

export function startPgEcho(name = "payments-db"): Promise<DemoService> {
  return tcpService(name, (s) => {
    let pending = Buffer.alloc(0);
    let started = false;
    s.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      for (;;) {
        if (!started) {
          if (pending.length < 8) return;
          const len = pending.readUInt32BE(0);
          if (len < 8 || len > 10_000) return void s.destroy();
          if (pending.length < len) return;
          const code = pending.readUInt32BE(4);
          pending = pending.subarray(len);
          if (code === PG_SSL_REQUEST) s.write("N"); // no TLS inside: the sidecar's mTLS is the transport
          else {
            started = true;
            s.write(Buffer.concat([PG_AUTH_OK, PG_READY]));
          }
          continue;
        }
        if (pending.length < 5) return;
        const len = pending.readUInt32BE(1);
        if (len < 4) return void s.destroy();
        if (pending.length < 1 + len) return;
        const msg = pending.subarray(0, 1 + len);
        pending = pending.subarray(1 + len);
        if (msg[0] === 0x58 /* 'X' Terminate */) return void s.end();
        s.write(Buffer.concat([msg, PG_READY])); // echo the framed message
      }
    });
  });
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
