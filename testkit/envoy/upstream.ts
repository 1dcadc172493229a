// Loopback upstreams that record, per connection, exactly which bytes arrived from Envoy.
//   - echo: writes every chunk back (so the client sees what crossed both ways);
//   - server-first: greets on accept (e.g. a MySQL handshake) before reading anything;
//   - either can push extra server→client bytes on demand (byte-budget tests).
import { createServer, type Server, type Socket } from "node:net";
import { waitFor } from "../../xds-server/src/util/wait.js";

export class UpstreamConnection {
  private chunks: Buffer[] = [];
  /** 'end' when the peer (Envoy) half-closed, 'close' once the socket is fully gone. */
  ended = false;
  closed = false;
  error: string | undefined;

  constructor(readonly socket: Socket, echo: boolean) {
    socket.on("data", (d: Buffer) => {
      this.chunks.push(Buffer.from(d));
      if (echo && !socket.destroyed) socket.write(d);
    });
    socket.on("end", () => {
      this.ended = true;
      socket.end();
    });
    socket.on("error", (e) => (this.error = e.message));
    socket.on("close", () => (this.closed = true));
  }

  /** Every byte that arrived on this connection, in order. */
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  async waitForBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    return waitFor(`${n} bytes at the upstream (have ${this.received().length})`, () =>
      this.received().length >= n ? this.received() : undefined, timeoutMs);
  }

  async waitForClose(timeoutMs = 5000): Promise<void> {
    await waitFor("the upstream connection to close", () => (this.closed || this.ended ? true : undefined), timeoutMs);
  }
}

export interface UpstreamOptions {
  /** Echo every chunk back. Default true. */
  echo?: boolean;
  /** Bytes written as soon as a connection is accepted (server-first protocols). */
  greeting?: Buffer;
}

export class Upstream {
  readonly connections: UpstreamConnection[] = [];

  private constructor(private readonly server: Server, readonly port: number) {}

  static start(opts: UpstreamOptions = {}): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      const conns: UpstreamConnection[] = [];
      const server = createServer((sock) => {
        sock.setNoDelay(true);
        conns.push(new UpstreamConnection(sock, opts.echo ?? true));
        if (opts.greeting) sock.write(opts.greeting);
      });
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const addr = server.address();
        if (addr === null || typeof addr === "string") return reject(new Error("upstream: no address"));
        const up = new Upstream(server, addr.port);
        // Share the array so connections accepted before start() resolved are visible too.
        (up as { connections: UpstreamConnection[] }).connections = conns;
        resolve(up);
      });
    });
  }

  /** Waits until at least n connections were accepted; returns the n-th (1-based). */
  async waitForConnection(n = 1, timeoutMs = 5000): Promise<UpstreamConnection> {
    return waitFor(`upstream connection #${n}`, () => this.connections[n - 1], timeoutMs);
  }

  /** All bytes received over all connections (for "nothing reached the upstream" checks). */
  totalReceived(): number {
    return this.connections.reduce((n, c) => n + c.received().length, 0);
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A MySQL protocol-10 initial handshake packet: 3-byte little-endian payload length, sequence id 0,
 * protocol version 0x0a, a NUL-terminated server version, a connection id, auth data, capabilities…
 */
export function mysqlGreeting(serverVersion = "8.0.36-picoseg"): Buffer {
  const payload = Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from(serverVersion + "\0", "latin1"),
    Buffer.from([0x2a, 0x00, 0x00, 0x00]), // connection id 42
    Buffer.from("abcdefgh", "latin1"), // auth-plugin-data part 1
    Buffer.from([0x00]), // filler
    Buffer.from([0xff, 0xf7]), // capability flags (lower)
    Buffer.from([0x21]), // character set utf8
    Buffer.from([0x02, 0x00]), // status flags
    Buffer.from([0xff, 0x81]), // capability flags (upper)
    Buffer.from([0x15]), // auth plugin data length
    Buffer.alloc(10), // reserved
    Buffer.from("ijklmnopqrst\0", "latin1"), // auth-plugin-data part 2
    Buffer.from("mysql_native_password\0", "latin1"),
  ]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, 0]);
  return Buffer.concat([header, payload]);
}
