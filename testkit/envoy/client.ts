// A TCP (or mTLS) client for tests: write bytes, read what came back, and see how the connection
// ended — 'end' (FIN from Envoy), 'reset' (RST), or still open — always with a bounded wait.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import { sleep, waitFor } from "../../xds-server/src/util/wait.js";

export interface ClientTls {
  certPem: string;
  keyPem: string;
  caPem: string;
  /** ALPN to offer; an Istio sidecar's mTLS chains match "istio" / "istio-peer-exchange". */
  alpn?: string[];
  /**
   * Verify the server by its SPIFFE URI SAN, as one Istio sidecar verifies another, instead of by
   * the host name "localhost" (a workload certificate carries no DNS name).
   */
  serverPrincipal?: string;
}

/** A TLS identity check that accepts exactly the certificate whose URI SAN is `principal`. */
function spiffeIdentity(principal: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const uris = (cert.subjectaltname ?? "").split(", ").filter((s) => s.startsWith("URI:")).map((s) => s.slice(4));
    return uris.includes(principal) ? undefined : new Error(`server identity ${uris.join(",") || "(none)"} is not ${principal}`);
  };
}

export type CloseKind = "end" | "reset" | "close";

export class TcpClient {
  private chunks: Buffer[] = [];
  /** How the connection ended, once it has. */
  closedBy: CloseKind | undefined;
  error: string | undefined;
  private constructor(readonly socket: Socket | TLSSocket) {
    socket.on("data", (d: Buffer) => this.chunks.push(Buffer.from(d)));
    socket.on("end", () => {
      this.closedBy ??= "end";
      socket.end();
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
      if (e.code === "ECONNRESET" || e.code === "EPIPE") this.closedBy ??= "reset";
    });
    socket.on("close", () => (this.closedBy ??= "close"));
  }

  /**
   * Connects to 127.0.0.1:port (TLS handshake included when tls is given), within timeoutMs.
   * `from` binds the client to another loopback address (all of 127.0.0.0/8 is local on Linux), so
   * one test machine can play several sources.
   */
  static connect(port: number, opts: { tls?: ClientTls; timeoutMs?: number; from?: string } = {}): Promise<TcpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const local = opts.from !== undefined ? { localAddress: opts.from } : {};
      const sock: Socket = opts.tls
        ? tlsConnect({
            host: "127.0.0.1",
            port,
            ...local,
            cert: opts.tls.certPem,
            key: opts.tls.keyPem,
            ca: opts.tls.caPem,
            servername: "localhost",
            ...(opts.tls.alpn ? { ALPNProtocols: opts.tls.alpn } : {}),
            ...(opts.tls.serverPrincipal !== undefined ? { checkServerIdentity: spiffeIdentity(opts.tls.serverPrincipal) } : {}),
          })
        : netConnect({ host: "127.0.0.1", port, ...local });
      sock.setNoDelay(true);
      const client = new TcpClient(sock);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to ${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      sock.once("error", fail);
      sock.once(opts.tls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        sock.off("error", fail);
        resolve(client);
      });
    });
  }

  /** Writes bytes and waits for them to be handed to the kernel. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Everything received so far. */
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  isOpen(): boolean {
    return this.closedBy === undefined;
  }

  async waitForBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    return waitFor(`${n} bytes at the client (have ${this.received().length})`, () =>
      this.received().length >= n ? this.received() : undefined, timeoutMs);
  }

  /** Waits for the connection to end; throws if it is still open after timeoutMs. */
  async waitForClose(timeoutMs = 5000): Promise<CloseKind> {
    return waitFor("the client connection to be closed", () => this.closedBy, timeoutMs);
  }

  /** Waits ms and tells whether the connection is still open (for "stays open" checks). */
  async staysOpenFor(ms: number): Promise<boolean> {
    await sleep(ms);
    return this.isOpen();
  }

  /** Closes our side and frees the socket. */
  destroy(): void {
    this.socket.destroy();
  }
}
