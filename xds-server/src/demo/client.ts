// A real mTLS client for the scenario: it presents a mesh identity's certificate, sends bytes,
// and records what came back and how the connection ended. The source address is fixed to
// 127.0.0.1 so the sidecar's decision lines ("source": "127.0.0.1:PORT") name this connection.
import { connect as netConnect, type Socket } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import type { HostPort } from "../bootstrap/index.js";
import { sleep } from "../util/index.js";

export interface ClientIdentity {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/** How a connection ended: refused (no listener), handshake (closed before mTLS completed), end (FIN), reset, close. */
export type Ending = "refused" | "handshake" | "end" | "reset" | "close";

export class DemoConnection {
  private chunks: Buffer[] = [];
  ended: Ending | undefined;
  /** When the connection was seen to end (ms since epoch). */
  endedAt: number | undefined;
  error: string | undefined;
  /** "127.0.0.1:PORT", as Envoy reports the connection's source. */
  source = "";
  private secure = false;

  private constructor(private readonly raw: Socket, readonly socket: TLSSocket) {
    raw.on("connect", () => (this.source = `${raw.localAddress ?? "127.0.0.1"}:${raw.localPort ?? 0}`));
    raw.on("error", (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
      if (e.code === "ECONNREFUSED") this.ended ??= "refused";
    });
    socket.on("secureConnect", () => (this.secure = true));
    socket.on("data", (d: Buffer) => this.chunks.push(Buffer.from(d)));
    socket.on("end", () => {
      this.ended ??= this.secure ? "end" : "handshake";
      this.endedAt ??= Date.now();
      socket.end();
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
      if (e.code === "ECONNREFUSED") this.ended ??= "refused";
      else if (!this.secure) this.ended ??= "handshake";
      else if (e.code === "ECONNRESET" || e.code === "EPIPE") this.ended ??= "reset";
    });
    socket.on("close", () => {
      this.ended ??= this.secure ? "close" : "handshake";
      this.endedAt ??= Date.now();
    });
  }

  /**
   * Connects and completes the mTLS handshake within timeoutMs. Never throws: a connection the
   * sidecar closes during the handshake (or refuses) comes back with `ended` set.
   */
  static async open(target: HostPort, id: ClientIdentity, timeoutMs = 5000): Promise<DemoConnection> {
    // The TCP socket first, to choose the source address; TLS runs over it.
    const raw = netConnect({ host: target.host, port: target.port, localAddress: "127.0.0.1" });
    raw.setNoDelay(true);
    const socket = connect({
      socket: raw,
      cert: id.certPem,
      key: id.keyPem,
      ca: id.caPem,
      servername: "localhost",
    });
    const c = new DemoConnection(raw, socket);
    const deadline = Date.now() + timeoutMs;
    while (!c.secure && c.ended === undefined && Date.now() < deadline) await sleep(10);
    if (!c.secure && c.ended === undefined) {
      c.error = `no TLS handshake within ${timeoutMs} ms`;
      c.ended = "handshake";
      socket.destroy();
    }
    return c;
  }

  isOpen(): boolean {
    return this.ended === undefined;
  }

  /** Writes bytes (in one write) and waits until they are handed to the kernel. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (!this.isOpen() || this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Waits until done(received) holds or the connection ends; true if done held. */
  async waitForReply(done: (b: Buffer) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (done(this.received())) return true;
      if (!this.isOpen() || Date.now() >= deadline) return false;
      await sleep(10);
    }
  }

  /** Waits up to timeoutMs for the connection to end; true if it did. */
  async waitForEnd(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.isOpen() && Date.now() < deadline) await sleep(10);
    return !this.isOpen();
  }

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }
}
