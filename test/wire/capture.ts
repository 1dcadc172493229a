// Real bytes from real client libraries: a loopback relay records what a client sends and,
// when there is an upstream (a real broker or database), what the upstream answers.
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface Recording {
  port: number;
  /** Every byte the client sent, and every read as it arrived. */
  fromClient(): Buffer;
  fromServer(): Buffer;
  clientReads(): Buffer[];
  serverReads(): Buffer[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (a free port). With `upstream`, relays each connection there and records
 * both directions; without one it only records the client and writes `greeting` (if any) first.
 */
export async function record(upstream?: { host: string; port: number }, greeting?: Uint8Array): Promise<Recording> {
  const client: Buffer[] = [];
  const server: Buffer[] = [];
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
    s.on("data", (d: Buffer) => client.push(Buffer.from(d)));
    if (greeting) s.write(greeting);
    if (!upstream) return;
    const up = createConnection(upstream.port, upstream.host);
    sockets.add(up);
    up.on("close", () => { sockets.delete(up); s.destroy(); });
    up.on("error", () => s.destroy());
    s.on("close", () => up.destroy());
    s.on("data", (d: Buffer) => up.write(d));
    up.on("data", (d: Buffer) => {
      server.push(Buffer.from(d));
      s.write(d);
    });
  });
  const port = await listenOnLoopback(srv, "record");
  return {
    port,
    fromClient: () => Buffer.concat(client),
    fromServer: () => Buffer.concat(server),
    clientReads: () => [...client],
    serverReads: () => [...server],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** Listens on 127.0.0.1 at a port the kernel picks; returns it. */
export async function listenOnLoopback(server: Server, what: string): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error(`${what}: no address`);
  return addr.port;
}

/** Resolves once `check` holds (polled), or rejects after `ms`. */
export async function until(check: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
