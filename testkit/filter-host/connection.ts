import { BUFFER_DOWNSTREAM, BUFFER_UPSTREAM } from "./abi.js";
import { concat, toBytes, type Bytes } from "./bytes.js";
import { HeldBuffer } from "./held-buffer.js";
import type { FilterHost } from "./host.js";
import type { DecisionLine, RootHandle } from "./types.js";

/** One downstream connection through the filter. */
export class Connection {
  readonly id: number;
  readonly root: RootHandle;
  /** Whether the connection was closed (by the filter or by a peer). */
  closed = false;
  /** Who closed it: "filter" when the filter called proxy_close_stream. */
  closedBy: "filter" | "client" | "server" | null = null;
  /** Every status the filter returned for a data callback, in order (0 Continue, 1 StopIteration). */
  readonly statuses: number[] = [];
  private toServer: Uint8Array[] = [];
  private toClient: Uint8Array[] = [];
  private readonly heldIn = new HeldBuffer();
  private readonly heldOut = new HeldBuffer();
  /** Bytes a StopIteration left in Envoy's downstream read buffer. */
  get heldFromClient(): Uint8Array {
    return this.heldIn.bytes;
  }
  set heldFromClient(b: Uint8Array) {
    this.heldIn.set(b);
  }
  /** Bytes a StopIteration left in the upstream connection's read buffer. */
  get heldFromServer(): Uint8Array {
    return this.heldOut.bytes;
  }
  set heldFromServer(b: Uint8Array) {
    this.heldOut.set(b);
  }
  /** @internal proxy_set_buffer_bytes(start 0) on a held buffer. */
  prependHeld(upstream: boolean, data: Uint8Array, drain: number): void {
    (upstream ? this.heldOut : this.heldIn).prepend(data, drain);
  }
  /** Read buffers above their high watermark (that connection stops reading), per direction. */
  readonly aboveHigh = { client: false, server: false };
  /** Properties by dotted path. */
  readonly properties: Map<string, Uint8Array>;
  newConnectionStatus = -1;

  constructor(
    private readonly host: FilterHost,
    id: number,
    root: RootHandle,
    properties: Map<string, Uint8Array>,
    private readonly afterHandshake: Map<string, Uint8Array> = new Map(),
  ) {
    this.id = id;
    this.root = root;
    this.properties = properties;
  }

  /** Completes a pending TLS handshake: the peer's principal becomes readable. */
  completeHandshake(): void {
    for (const [k, v] of this.afterHandshake) this.properties.set(k, v);
    if (this.afterHandshake.size > 0) this.properties.set("connection.tls_version", new TextEncoder().encode("TLSv1.3"));
    this.afterHandshake.clear();
  }

  /** Bytes the filter let through to the upstream server. */
  get deliveredToServer(): Uint8Array {
    return this.toServer.reduce((a, b) => concat(a, b), new Uint8Array(0));
  }
  /** Bytes the filter let through to the downstream client. */
  get deliveredToClient(): Uint8Array {
    return this.toClient.reduce((a, b) => concat(a, b), new Uint8Array(0));
  }

  /** The reason of the filter's last deny decision on this connection, or null. */
  get closeReason(): string | null {
    const mine = this.decisions().filter((d) => d.picoseg === "deny");
    return mine.length > 0 ? mine[mine.length - 1]!.reason : null;
  }

  /** Decision lines (deny, audit, allow) logged for this connection. */
  decisions(): DecisionLine[] {
    return this.host.decisionsFor(this.id);
  }

  /** The client sends bytes; returns the filter's status (or null when already closed). */
  fromClient(bytes: Bytes, opts: { end?: boolean } = {}): number | null {
    this.host.processReadResumes();
    if (this.closed) return null;
    this.completeHandshake(); // client bytes only ever arrive after the TLS handshake
    const buf = concat(this.heldFromClient, toBytes(bytes));
    return this.deliver(BUFFER_DOWNSTREAM, buf, buf.length, opts.end ?? false);
  }

  /** The upstream server sends bytes. */
  fromServer(bytes: Bytes, opts: { end?: boolean } = {}): number | null {
    this.host.processReadResumes();
    if (this.closed) return null;
    const buf = concat(this.heldFromServer, toBytes(bytes));
    return this.deliver(BUFFER_UPSTREAM, buf, buf.length, opts.end ?? false);
  }

  /**
   * Low level, for fuzzing: calls the data callback with `buffer` as the host
   * buffer and `reportedSize` as the size argument, whatever they are.
   */
  rawData(upstream: boolean, buffer: Uint8Array, reportedSize: number, end: boolean): number | null {
    this.host.processReadResumes();
    if (this.closed) return null;
    return this.deliver(upstream ? BUFFER_UPSTREAM : BUFFER_DOWNSTREAM, buffer, reportedSize, end);
  }

  /** @internal Envoy dispatching a read buffer again (read re-enabled with bytes still buffered). */
  redeliver(upstream: boolean): void {
    if (this.closed) return;
    const held = upstream ? this.heldFromServer : this.heldFromClient;
    if (held.length > 0) this.deliver(upstream ? BUFFER_UPSTREAM : BUFFER_DOWNSTREAM, held, held.length, false);
  }

  /** @internal proxy_continue_stream(2): the next filter (tcp_proxy) takes the held client bytes. */
  continueReading(): void {
    if (this.closed || this.heldFromClient.length === 0) return;
    this.toServer.push(this.heldFromClient);
    this.heldFromClient = new Uint8Array(0);
  }

  private deliver(type: number, buf: Uint8Array, size: number, end: boolean): number {
    const h = this.host;
    h.setBuffer(type, buf);
    const fn = type === BUFFER_DOWNSTREAM ? "proxy_on_downstream_data" : "proxy_on_upstream_data";
    let status: number;
    try {
      status = h.callIn(this.id, fn, () =>
        type === BUFFER_DOWNSTREAM
          ? h.exports.proxy_on_downstream_data(this.id, size >>> 0, end ? 1 : 0)
          : h.exports.proxy_on_upstream_data(this.id, size >>> 0, end ? 1 : 0),
      );
    } finally {
      buf = h.takeBuffer(type) ?? buf;
    }
    this.statuses.push(status);
    // Continue forwards the whole buffer to the next filter even when a close was
    // requested in the same callback (Envoy flushes what was written); StopIteration holds it.
    if (status === 0) {
      if (type === BUFFER_DOWNSTREAM) {
        this.toServer.push(buf);
        this.heldFromClient = new Uint8Array(0);
      } else {
        this.toClient.push(buf);
        this.heldFromServer = new Uint8Array(0);
      }
    } else if (type === BUFFER_DOWNSTREAM) this.heldFromClient = buf;
    else this.heldFromServer = buf;
    h.processCloses();
    h.processContinues();
    return status;
  }

  /** The client closes its side: the connection ends. */
  closeFromClient(): void {
    if (!this.closed) this.host.finish(this, "client");
  }

  /** The server closes: the connection ends. */
  closeFromServer(): void {
    if (!this.closed) this.host.finish(this, "server");
  }
}
