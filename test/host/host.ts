// A proxy-wasm ABI 0.2.1 host for picoseg's network filter, in the spirit of the
// Go SDK's proxytest: it loads filter/build/picoseg.wasm into Node's WebAssembly
// and plays Envoy's part — contexts, buffers with Envoy's StopIteration/Continue
// semantics, properties, shared data with CAS, metrics, logs, a clock we control
// and ticks. It is for speed and determinism, never a substitute for Envoy.
//
//   const host = await FilterHost.start({ config, logLevel: "info", nowMs, wasmPath: DEBUG_WASM, shareWith: otherHost });
//   const c = host.connect({ source: "10.1.2.3:40000", port: 5432, principal, mtls, properties, root });
//   c.fromClient(bytes, { end }) / c.fromServer(bytes)   -> 0 Continue | 1 StopIteration | null (closed)
//   c.rawData(upstream, buffer, reportedSize, end)       -> any size the host might pass (fuzzing)
//   c.closed, c.closedBy, c.closeReason, c.decisions(), c.deliveredToServer, c.deliveredToClient
//   c.heldFromClient / c.heldFromServer: bytes a StopIteration left in Envoy's read buffers
//   c.closeFromClient() / c.closeFromServer(); c.completeHandshake() (with connect({ handshake: "pending" }))
//   host.connectMany(n, i => opts)   host.liveConnections
//   host.advance(ms) fires ticks; host.setTime(ms); host.now()
//   host.addRoot({ config, pluginName }) (a new root context, as on an ECDS update); host.reconfigure(config, root)
//   host.counter(name) (throws if never defined), host.metricNames()
//   host.logs("warn"), host.decisions(), host.clearLogs(), host.setLogLevel(level), host.logCalls, host.logBytes
//   host.memoryBytes(), host.bytesRead, host.hostCalls (per import), host.sharedData(), host.crashed
//   host.failing.add("proxy_get_shared_data") makes that host call fail (fault injection)
//   host.failingAfter.set("proxy_set_buffer_bytes", n): that call succeeds n more times, then fails
// Held buffers after a callback, as in Envoy 1.40 (source/extensions/common/wasm/context.cc keeps the
// context's network buffer pointer after a StopIteration; checked with test/host/envoy-probe/): the
// connection's context keeps pointing at the buffer a StopIteration held, so proxy_get/set_buffer_bytes
// on types 2/3 reach it from the tick (connection made effective) or from the other direction's
// callback. Each is a connection read buffer with watermarks at StartOptions.bufferLimitBytes (Envoy's
// per_connection_buffer_limit_bytes, 1 MiB by default; 0 = none): above the limit its connection stops
// reading; drained to half of it, reading resumes and bytes still buffered are dispatched again (the
// data callback sees the whole held buffer) on the event loop's next turn: in the emulator, at the
// start of the next fromClient/fromServer/rawData/advance (advance(0) turns the loop without moving
// the clock), and after each tick (probe: an 86-byte held greeting re-dispatched this way).
// proxy_continue_stream(3) answers Unimplemented (12) (probe, and context.cc); (2) answers Ok (probe)
// and, after the VM call, resumes the read chain after this filter (FilterManagerImpl::
// onContinueReading; probe: tcp_proxy then starts): held client bytes go to the next filter, past
// this one; (0), (1) answer Ok and do nothing on a network connection.
// A trap or proc_exit inside the module throws FilterCrash from the call that caused it,
// and every later call throws too.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { Decision } from "../../filter/decision-line.js";

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;
export type LogLevelName = keyof typeof LogLevel;

/** proxy-wasm WasmResult values used here. */
const Ok = 0;
const NotFound = 1;
const BadArgument = 2;
const InvalidMemoryAccess = 6;
const CasMismatch = 8;
const InternalFailure = 10;

const BUFFER_DOWNSTREAM = 2;
const BUFFER_UPSTREAM = 3;
const BUFFER_PLUGIN_CONFIG = 7;
const BUFFER_VM_CONFIG = 6;

const here = path.dirname(fileURLToPath(import.meta.url));
export const RELEASE_WASM = path.resolve(here, "../../filter/build/picoseg.wasm");
export const DEBUG_WASM = path.resolve(here, "../../filter/build/picoseg.debug.wasm");

export type Bytes = Uint8Array | string | readonly number[];

export function toBytes(b: Bytes): Uint8Array {
  if (typeof b === "string") return new TextEncoder().encode(b);
  if (b instanceof Uint8Array) return b;
  return Uint8Array.from(b);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * A held read buffer: bytes with spare room in front, so that the many small prepends of a watermark
 * push (megabytes, in 64 KiB steps) cost linear time, as in Envoy's slice buffers.
 */
class HeldBuffer {
  private store: Uint8Array = new Uint8Array(0);
  private start = 0;
  /** Whether `store` is this buffer's own copy (never write into an array a caller handed over). */
  private owned = false;

  get bytes(): Uint8Array {
    return this.store.subarray(this.start);
  }

  set(b: Uint8Array): void {
    this.store = b;
    this.start = 0;
    this.owned = false;
  }

  /** Drains `drain` bytes from the front, then prepends `data`. */
  prepend(data: Uint8Array, drain: number): void {
    this.start += Math.min(drain, this.store.length - this.start);
    if (data.length === 0) return;
    if (data.length > this.start || !this.owned) {
      const body = this.bytes;
      const room = Math.max(data.length, body.length + data.length);
      const grown = new Uint8Array(room + body.length);
      grown.set(body, room);
      this.store = grown;
      this.start = room;
      this.owned = true;
    }
    this.start -= data.length;
    this.store.set(data, this.start);
  }
}

/** Thrown (and recorded) when the module traps or calls proc_exit: tests must fail loudly. */
export class FilterCrash extends Error {}

export interface LogEntry {
  level: number;
  message: string;
  /** The effective context when the filter logged. */
  context: number;
}

/** A decision line the filter logged (`{"picoseg": ...}`): the same type the demo and the harness read. */
export type DecisionLine = Decision;

export interface StartOptions {
  /** The plugin configuration string; null or omitted = none (the filter must deny with no-config). */
  config?: Bytes | null;
  wasmPath?: string;
  /** The host's log level (what proxy_get_log_level answers). Default info. */
  logLevel?: LogLevelName;
  pluginName?: string;
  rootId?: string;
  /** Start of the clock, ms since the Unix epoch. */
  nowMs?: number;
  /**
   * Another host whose shared data this one uses: two hosts are then two Envoy
   * worker threads (two VMs) of one proxy.
   */
  shareWith?: FilterHost;
  /** Envoy's per_connection_buffer_limit_bytes for the read buffers (watermarks); 0 = none. Default 1 MiB. */
  bufferLimitBytes?: number;
}

/** Envoy's shared data: one store per proxy, shared by every worker's VM. */
export class SharedStore {
  readonly entries = new Map<string, { value: Uint8Array; cas: number }>();
  nextCas = 1;
}

export interface ConnectOptions {
  /** Envoy's `source.address`, e.g. "10.1.2.3:40000" or "[::1]:40000"; null = absent. Default "10.1.2.3:40000". */
  source?: string | null;
  /** `destination.port`; null = absent. Default 5432. */
  port?: number | null;
  /** The peer certificate's URI SAN; sets `connection.mtls` true unless `mtls` says otherwise. */
  principal?: string | null;
  mtls?: boolean;
  /** A TLS downstream (`connection.tls_version` present). Default: true when a principal is given. */
  tls?: boolean;
  /**
   * Envoy calls proxy_on_new_connection before the TLS handshake: with "pending", the
   * principal and `connection.mtls` appear only at the first client bytes or at
   * c.completeHandshake(). Default "done" (known from the start).
   */
  handshake?: "done" | "pending";
  /** Raw property overrides by dotted path ("source.address"); null removes a property. */
  properties?: Record<string, Uint8Array | string | null>;
  root?: RootHandle;
  /** Skip proxy_on_new_connection (to drive callbacks by hand). */
  noNewConnection?: boolean;
}

export interface RootHandle {
  readonly id: number;
  readonly pluginName: string;
  config: Uint8Array | null;
  tickPeriodMs: number;
  nextTickAt: number;
  deleted: boolean;
}

type Exports = {
  memory: WebAssembly.Memory;
  malloc: (size: number) => number;
  proxy_on_context_create: (id: number, parent: number) => void;
  proxy_on_vm_start: (id: number, size: number) => number;
  proxy_on_configure: (id: number, size: number) => number;
  proxy_on_tick: (id: number) => void;
  proxy_on_new_connection: (id: number) => number;
  proxy_on_downstream_data: (id: number, size: number, end: number) => number;
  proxy_on_upstream_data: (id: number, size: number, end: number) => number;
  proxy_on_downstream_connection_close: (id: number, peer: number) => void;
  proxy_on_upstream_connection_close: (id: number, peer: number) => void;
  proxy_on_done: (id: number) => number;
  proxy_on_log: (id: number) => void;
  proxy_on_delete: (id: number) => void;
};

const moduleCache = new Map<string, WebAssembly.Module>();

function compiled(file: string): WebAssembly.Module {
  let m = moduleCache.get(file);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(file));
    moduleCache.set(file, m);
  }
  return m;
}

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

export class FilterHost {
  exports!: Exports;
  private memory!: WebAssembly.Memory;
  private nextId = 1;
  private clockMs: number;
  private readonly rootsById = new Map<number, RootHandle>();
  readonly roots: RootHandle[] = [];
  private readonly conns = new Map<number, Connection>();
  private effective = 0;
  private readonly buffers = new Map<number, Uint8Array>();
  private readonly pendingClose = new Set<number>();
  /** Connections (and direction) whose read buffer is to be dispatched again after the current call. */
  private readonly pendingResume = new Map<number, Set<boolean>>();
  private readonly bufferLimit: number;
  readonly store: SharedStore;
  private readonly metricIds = new Map<string, number>();
  private readonly metricValues = new Map<number, number>();
  private readonly metricNamesById = new Map<number, string>();
  private readonly logEntries: LogEntry[] = [];
  private logLevel: number;
  crashed: Error | null = null;
  /** Payload bytes the filter copied out of the connection buffers (proxy_get_buffer_bytes on types 2 and 3). */
  bytesRead = 0;
  /** Every proxy_log call and the bytes it carried (whatever the level). */
  logCalls = 0;
  logBytes = 0;
  /** Host calls (by import name, e.g. "proxy_get_property") that answer InternalFailure: fault injection. */
  readonly failing = new Set<string>();
  /** Host calls that succeed the given number of further times, then answer InternalFailure. */
  readonly failingAfter = new Map<string, number>();
  /** How many host calls the filter made, by import name. */
  readonly hostCalls = new Map<string, number>();

  private constructor(opts: StartOptions) {
    this.clockMs = opts.nowMs ?? Date.UTC(2026, 0, 5, 12, 0, 0); // a Monday, noon UTC
    this.logLevel = LogLevel[opts.logLevel ?? "info"];
    this.store = opts.shareWith ? opts.shareWith.store : new SharedStore();
    this.bufferLimit = opts.bufferLimitBytes ?? 1024 * 1024;
  }

  /** Loads the filter, creates the root context "picoseg" and configures it. */
  static async start(opts: StartOptions = {}): Promise<FilterHost> {
    const host = new FilterHost(opts);
    await host.instantiate(opts.wasmPath ?? RELEASE_WASM);
    host.addRoot({ config: opts.config ?? null, pluginName: opts.pluginName, rootId: opts.rootId, vmStart: true });
    return host;
  }

  private async instantiate(file: string): Promise<void> {
    const mod = compiled(file);
    const impls = this.imports();
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of WebAssembly.Module.imports(mod)) {
      const ns = (imports[imp.module] ??= {});
      const key = `${imp.module}.${imp.name}`;
      const impl = impls[key];
      if (imp.kind !== "function") throw new Error(`unexpected import kind ${imp.kind} for ${key}`);
      if (!impl) throw new FilterCrash(`the filter imports ${key}, which this host (and Envoy's ABI 0.2.1) does not provide`);
      const failable = imp.module === "env" && imp.name !== "proxy_log";
      ns[imp.name] = (...args: unknown[]) => {
        this.hostCalls.set(imp.name, (this.hostCalls.get(imp.name) ?? 0) + 1);
        if (failable && this.failing.has(imp.name)) return InternalFailure;
        const left = failable ? this.failingAfter.get(imp.name) : undefined;
        if (left !== undefined) {
          if (left <= 0) return InternalFailure;
          this.failingAfter.set(imp.name, left - 1);
        }
        return impl(...args);
      };
    }
    const instance = await WebAssembly.instantiate(mod, imports);
    this.exports = instance.exports as unknown as Exports;
    this.memory = this.exports.memory;
  }

  // ---------- memory helpers ----------

  private u8(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }
  private view(): DataView {
    return new DataView(this.memory.buffer);
  }
  private readBytes(ptr: number, len: number): Uint8Array {
    if (ptr + len > this.memory.buffer.byteLength) throw new FilterCrash(`filter passed an out-of-bounds range ${ptr}+${len}`);
    return this.u8().slice(ptr, ptr + len);
  }
  private readString(ptr: number, len: number): string {
    return new TextDecoder().decode(this.readBytes(ptr, len));
  }
  /** Copies bytes into memory the filter allocates (as Envoy does, through its malloc). */
  private copyOut(bytes: Uint8Array, ptrPtr: number, sizePtr: number): number {
    const p = this.exports.malloc(bytes.length) >>> 0;
    if (p === 0 && bytes.length > 0) return InvalidMemoryAccess; // the module refused: Envoy reports it too
    this.u8().set(bytes, p);
    const v = this.view();
    v.setUint32(ptrPtr, p, true);
    v.setUint32(sizePtr, bytes.length, true);
    return Ok;
  }

  /** Wasm linear memory in bytes. */
  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  // ---------- calls into the module ----------

  /** Runs an export with `context` effective; a trap or proc_exit becomes a FilterCrash. */
  callIn<T>(context: number, name: string, fn: () => T): T {
    if (this.crashed) throw new FilterCrash(`the filter crashed earlier: ${this.crashed.message}`);
    const saved = this.effective;
    this.effective = context;
    try {
      return fn();
    } catch (e) {
      const crit = this.logEntries.filter((l) => l.level >= LogLevel.error).map((l) => l.message).slice(-3);
      const err = new FilterCrash(`filter crashed in ${name}(${context}): ${(e as Error).message}; last error logs: ${JSON.stringify(crit)}`);
      this.crashed = err;
      throw err;
    } finally {
      this.effective = saved;
    }
  }

  setBuffer(type: number, buf: Uint8Array | null): void {
    if (buf) this.buffers.set(type, buf);
    else this.buffers.delete(type);
  }

  /** Ends a callback's buffer; returns it as the filter left it. */
  takeBuffer(type: number): Uint8Array | undefined {
    const b = this.buffers.get(type);
    this.buffers.delete(type);
    return b;
  }

  /**
   * The buffer proxy_get/set_buffer_bytes reach: the callback's own, else (types 2 and 3) the read
   * buffer the effective connection's last StopIteration held.
   */
  private bufferOf(type: number): { buf: Uint8Array; set: (b: Uint8Array) => void; prepend: (d: Uint8Array, drain: number) => void } | null {
    const cur = this.buffers.get(type);
    if (cur) {
      return {
        buf: cur,
        set: (b) => this.buffers.set(type, b),
        prepend: (d, drain) => this.buffers.set(type, concat(d, cur.subarray(Math.min(drain, cur.length)))),
      };
    }
    if (type !== BUFFER_DOWNSTREAM && type !== BUFFER_UPSTREAM) return null;
    const c = this.conns.get(this.effective);
    if (!c || c.closed) return null;
    const up = type === BUFFER_UPSTREAM;
    const held = up ? c.heldFromServer : c.heldFromClient;
    if (held.length === 0) return null;
    return {
      buf: held,
      set: (b) => {
        if (up) c.heldFromServer = b;
        else c.heldFromClient = b;
        this.watermarks(c, up, b.length);
      },
      prepend: (d, drain) => {
        c.prependHeld(up, d, drain);
        this.watermarks(c, up, (up ? c.heldFromServer : c.heldFromClient).length);
      },
    };
  }

  /** Envoy's WatermarkBuffer on a connection's read buffer: high = limit, low = limit / 2. */
  private watermarks(c: Connection, up: boolean, length: number): void {
    const limit = this.bufferLimit;
    if (limit <= 0) return;
    const key = up ? "server" : "client";
    if (!c.aboveHigh[key] && length > limit) {
      c.aboveHigh[key] = true; // readDisable(true)
    } else if (c.aboveHigh[key] && length <= Math.floor(limit / 2)) {
      c.aboveHigh[key] = false; // readDisable(false): bytes still buffered are dispatched again
      if (length > 0) {
        const dirs = this.pendingResume.get(c.id) ?? new Set<boolean>();
        dirs.add(up);
        this.pendingResume.set(c.id, dirs);
      }
    }
  }

  /** Dispatches again the read buffers whose reading resumed during the last call. */
  processReadResumes(): void {
    while (this.pendingResume.size > 0) {
      const [id, dirs] = this.pendingResume.entries().next().value as [number, Set<boolean>];
      this.pendingResume.delete(id);
      const c = this.conns.get(id);
      if (!c) continue;
      for (const up of dirs) c.redeliver(up);
    }
  }

  // ---------- roots ----------

  /** Creates another root context in the same VM (Envoy does this for a new plugin configuration). */
  addRoot(opts: { config?: Bytes | null; pluginName?: string; rootId?: string; vmStart?: boolean } = {}): RootHandle {
    const id = this.nextId++;
    const root: RootHandle = {
      id,
      pluginName: opts.pluginName ?? "picoseg",
      config: opts.config == null ? null : toBytes(opts.config),
      tickPeriodMs: 0,
      nextTickAt: 0,
      deleted: false,
    };
    (root as { rootIdName?: string }).rootIdName = opts.rootId ?? "picoseg";
    this.rootsById.set(id, root);
    this.roots.push(root);
    this.callIn(id, "proxy_on_context_create", () => this.exports.proxy_on_context_create(id, 0));
    if (opts.vmStart) this.callIn(id, "proxy_on_vm_start", () => this.exports.proxy_on_vm_start(id, 0));
    this.configure(root);
    return root;
  }

  /** The first root context. */
  get root(): RootHandle {
    return this.roots[0]!;
  }

  /** The newest root context (where Envoy sends new connections after a config update). */
  get newestRoot(): RootHandle {
    return this.roots[this.roots.length - 1]!;
  }

  /** Calls proxy_on_configure again on an existing root with a new configuration. */
  reconfigure(config: Bytes | null, root: RootHandle = this.root): number {
    root.config = config == null ? null : toBytes(config);
    return this.configure(root);
  }

  private configure(root: RootHandle): number {
    const cfg = root.config ?? new Uint8Array(0);
    this.setBuffer(BUFFER_PLUGIN_CONFIG, cfg);
    try {
      return this.callIn(root.id, "proxy_on_configure", () => this.exports.proxy_on_configure(root.id, cfg.length));
    } finally {
      this.setBuffer(BUFFER_PLUGIN_CONFIG, null);
    }
  }

  /** Deletes a root context (proxy_on_done, proxy_on_delete). */
  deleteRoot(root: RootHandle): void {
    this.callIn(root.id, "proxy_on_done", () => this.exports.proxy_on_done(root.id));
    this.callIn(root.id, "proxy_on_delete", () => this.exports.proxy_on_delete(root.id));
    root.deleted = true;
    root.tickPeriodMs = 0;
  }

  // ---------- connections ----------

  /** Opens a connection on the newest root (or opts.root) and calls proxy_on_new_connection. */
  connect(opts: ConnectOptions = {}): Connection {
    const root = opts.root ?? this.newestRoot;
    const id = this.nextId++;
    const props = new Map<string, Uint8Array>();
    const enc = new TextEncoder();
    const source = opts.source === undefined ? "10.1.2.3:40000" : opts.source;
    if (source !== null) props.set("source.address", enc.encode(source));
    const port = opts.port === undefined ? 5432 : opts.port;
    if (port !== null) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, BigInt(port), true);
      props.set("destination.port", b);
    }
    const principal = opts.principal ?? null;
    const mtls = opts.mtls ?? principal !== null;
    const tls = opts.tls ?? principal !== null;
    const afterHandshake = new Map<string, Uint8Array>();
    afterHandshake.set("connection.mtls", Uint8Array.of(mtls ? 1 : 0));
    if (principal !== null) afterHandshake.set("connection.uri_san_peer_certificate", enc.encode(principal));
    if (tls) props.set("connection.tls_version", enc.encode(opts.handshake === "pending" ? "" : "TLSv1.3"));
    if (tls && opts.handshake === "pending") {
      props.set("connection.mtls", Uint8Array.of(0));
    } else {
      for (const [k, v] of afterHandshake) props.set(k, v);
      afterHandshake.clear();
    }
    for (const [k, v] of Object.entries(opts.properties ?? {})) {
      if (v === null) props.delete(k);
      else props.set(k, typeof v === "string" ? enc.encode(v) : v);
    }
    const c = new Connection(this, id, root, props, afterHandshake);
    this.conns.set(id, c);
    this.callIn(id, "proxy_on_context_create", () => this.exports.proxy_on_context_create(id, root.id));
    if (!opts.noNewConnection) {
      c.newConnectionStatus = this.callIn(id, "proxy_on_new_connection", () => this.exports.proxy_on_new_connection(id));
      this.processCloses();
      this.processContinues();
    }
    return c;
  }

  /** Opens n connections cheaply (for the benchmark and the setup-cost regression test). */
  connectMany(n: number, opts: ConnectOptions | ((i: number) => ConnectOptions) = {}): Connection[] {
    const out: Connection[] = new Array<Connection>(n);
    for (let i = 0; i < n; i++) out[i] = this.connect(typeof opts === "function" ? opts(i) : opts);
    return out;
  }

  /** Live (not closed) connections. */
  get liveConnections(): number {
    let n = 0;
    for (const c of this.conns.values()) if (!c.closed) n++;
    return n;
  }

  connection(id: number): Connection | undefined {
    return this.conns.get(id);
  }

  private readonly pendingContinue = new Set<number>();

  /** Envoy runs proxy_continue_stream(2) after the VM call that asked for it. */
  processContinues(): void {
    const ids = [...this.pendingContinue];
    this.pendingContinue.clear();
    for (const id of ids) this.conns.get(id)?.continueReading();
  }

  /** Applies the closes the filter requested during the last call. */
  processCloses(): void {
    if (this.pendingClose.size === 0) return;
    const ids = [...this.pendingClose];
    this.pendingClose.clear();
    for (const id of ids) {
      const c = this.conns.get(id);
      if (c && !c.closed) this.finish(c, "filter");
    }
  }

  /** Ends a connection as Envoy does: close event, then done, log, delete. Held bytes are dropped. */
  finish(c: Connection, by: "filter" | "client" | "server"): void {
    c.closed = true;
    c.closedBy = by;
    c.heldFromClient = new Uint8Array(0);
    c.heldFromServer = new Uint8Array(0);
    const peer = by === "filter" ? 1 : 2; // Local : Remote
    this.callIn(c.id, "proxy_on_downstream_connection_close", () => this.exports.proxy_on_downstream_connection_close(c.id, peer));
    this.callIn(c.id, "proxy_on_done", () => this.exports.proxy_on_done(c.id));
    this.callIn(c.id, "proxy_on_log", () => this.exports.proxy_on_log(c.id));
    this.callIn(c.id, "proxy_on_delete", () => this.exports.proxy_on_delete(c.id));
    this.pendingClose.delete(c.id);
    this.pendingResume.delete(c.id);
    this.pendingContinue.delete(c.id);
    this.conns.delete(c.id);
  }

  // ---------- clock and ticks ----------

  /** Current host time, ms since the Unix epoch. */
  now(): number {
    return this.clockMs;
  }

  /** Sets the clock without firing ticks (e.g. before connecting). */
  setTime(ms: number): void {
    this.clockMs = ms;
    for (const r of this.roots) if (r.tickPeriodMs > 0) r.nextTickAt = ms + r.tickPeriodMs;
  }

  /** Moves the clock forward, firing every root's ticks at their period on the way. */
  advance(ms: number): void {
    const target = this.clockMs + ms;
    this.processReadResumes();
    for (;;) {
      let next: RootHandle | null = null;
      for (const r of this.roots) {
        if (r.deleted || r.tickPeriodMs <= 0) continue;
        if (r.nextTickAt <= target && (next === null || r.nextTickAt < next.nextTickAt)) next = r;
      }
      if (next === null) break;
      this.clockMs = Math.max(this.clockMs, next.nextTickAt);
      next.nextTickAt += next.tickPeriodMs;
      const id = next.id;
      this.callIn(id, "proxy_on_tick", () => this.exports.proxy_on_tick(id));
      this.processCloses();
      this.processContinues();
      this.processReadResumes();
    }
    this.clockMs = target;
  }

  // ---------- observation ----------

  /** A counter's value; throws when the filter never defined it (so a typo cannot pass as 0). */
  counter(name: string): number {
    const id = this.metricIds.get(name);
    if (id === undefined) throw new Error(`metric ${name} is not defined; defined: ${[...this.metricIds.keys()].join(", ")}`);
    return this.metricValues.get(id) ?? 0;
  }

  metricNames(): string[] {
    return [...this.metricIds.keys()];
  }

  /** Messages the filter logged at exactly `level` (all levels when omitted). */
  logs(level?: LogLevelName): string[] {
    const want = level === undefined ? -1 : LogLevel[level];
    return this.logEntries.filter((l) => want < 0 || l.level === want).map((l) => l.message);
  }

  logEntriesSince(index: number): LogEntry[] {
    return this.logEntries.slice(index);
  }

  get logCount(): number {
    return this.logEntries.length;
  }

  /** Forgets logs and decision lines (long fuzz runs). */
  clearLogs(): void {
    this.logEntries.length = 0;
    this.decisionLines.length = 0;
    this.decisionsByConn.clear();
  }

  /** Every decision line the filter logged, parsed. */
  decisions(): DecisionLine[] {
    return [...this.decisionLines];
  }

  /** Decision lines of one connection (by the `connection` field). */
  decisionsFor(id: number): DecisionLine[] {
    return [...(this.decisionsByConn.get(id) ?? [])];
  }
  private readonly decisionLines: DecisionLine[] = [];
  private readonly decisionsByConn = new Map<number, DecisionLine[]>();

  setLogLevel(level: LogLevelName): void {
    this.logLevel = LogLevel[level];
  }

  sharedData(): Map<string, Uint8Array> {
    const m = new Map<string, Uint8Array>();
    for (const [k, v] of this.store.entries) m.set(k, v.value);
    return m;
  }

  // ---------- the ABI ----------

  private currentProps(): Map<string, Uint8Array> | null {
    const c = this.conns.get(this.effective);
    return c ? c.properties : null;
  }

  private rootOfEffective(): RootHandle | undefined {
    const r = this.rootsById.get(this.effective);
    if (r) return r;
    const c = this.conns.get(this.effective);
    return c?.root;
  }

  private imports(): Record<string, (...args: unknown[]) => unknown> {
    const n = (x: unknown): number => Number(x);
    return {
      "wasi_unstable.proc_exit": (code) => {
        throw new FilterCrash(`proc_exit(${n(code)})`);
      },
      "wasi_snapshot_preview1.proc_exit": (code) => {
        throw new FilterCrash(`proc_exit(${n(code)})`);
      },
      "env.abort": () => {
        throw new FilterCrash("abort");
      },
      "env.proxy_log": (level, ptr, size) => {
        const msg = this.readString(n(ptr), n(size));
        this.logCalls++;
        this.logBytes += n(size);
        this.logEntries.push({ level: n(level), message: msg, context: this.effective });
        if (msg.startsWith('{"picoseg"')) {
          // A decision line must be valid JSON: a parse error here fails the test.
          const d = JSON.parse(msg) as DecisionLine;
          this.decisionLines.push(d);
          const list = this.decisionsByConn.get(d.connection);
          if (list) list.push(d);
          else this.decisionsByConn.set(d.connection, [d]);
        }
        return Ok;
      },
      "env.proxy_get_log_level": (ptr) => {
        this.view().setUint32(n(ptr), this.logLevel, true);
        return Ok;
      },
      "env.proxy_get_current_time_nanoseconds": (ptr) => {
        this.view().setBigUint64(n(ptr), BigInt(Math.floor(this.clockMs)) * 1_000_000n, true);
        return Ok;
      },
      "env.proxy_set_tick_period_milliseconds": (ms) => {
        const r = this.rootsById.get(this.effective);
        if (!r) return BadArgument;
        r.tickPeriodMs = n(ms);
        r.nextTickAt = this.clockMs + r.tickPeriodMs;
        return Ok;
      },
      "env.proxy_get_property": (pathPtr, pathSize, valuePtrPtr, valueSizePtr) => {
        const key = this.readString(n(pathPtr), n(pathSize)).split("\0").join(".");
        let value: Uint8Array | undefined = this.currentProps()?.get(key);
        if (value === undefined) {
          const r = this.rootOfEffective();
          const enc = new TextEncoder();
          if (r && key === "plugin_name") value = enc.encode(r.pluginName);
          else if (r && key === "plugin_root_id") value = enc.encode((r as { rootIdName?: string }).rootIdName ?? "picoseg");
        }
        if (value === undefined) return NotFound;
        return this.copyOut(value, n(valuePtrPtr), n(valueSizePtr));
      },
      "env.proxy_get_buffer_bytes": (type, start, length, ptrPtr, sizePtr) => {
        const t = n(type);
        let buf = this.bufferOf(t)?.buf;
        if (t === BUFFER_VM_CONFIG) buf = new Uint8Array(0);
        if (!buf) return NotFound;
        const s = n(start) >>> 0;
        let len = n(length) >>> 0;
        if (s > buf.length) return BadArgument;
        if (s + len > buf.length) len = buf.length - s;
        if (len > 0) {
          const rc = this.copyOut(buf.subarray(s, s + len), n(ptrPtr), n(sizePtr));
          if (rc === Ok && (t === BUFFER_DOWNSTREAM || t === BUFFER_UPSTREAM)) this.bytesRead += len;
          return rc;
        }
        return Ok;
      },
      "env.proxy_set_buffer_bytes": (type, start, length, dataPtr, dataSize) => {
        // Envoy's Buffer::copyFrom: start 0 drains `length` bytes then prepends the data; a start at or
        // past the end appends it; anything else is BadArgument.
        const target = this.bufferOf(n(type));
        if (!target) return NotFound;
        const data = this.readBytes(n(dataPtr), n(dataSize));
        const s = n(start) >>> 0;
        const len = n(length) >>> 0;
        const buf = target.buf;
        if (s === 0) target.prepend(data, len);
        else if (s >= buf.length) target.set(concat(buf, data));
        else return BadArgument;
        return Ok;
      },
      "env.proxy_get_buffer_status": (type, lengthPtr, flagsPtr) => {
        const buf = this.buffers.get(n(type));
        if (!buf) return NotFound;
        this.view().setUint32(n(lengthPtr), buf.length, true);
        this.view().setUint32(n(flagsPtr), 0, true);
        return Ok;
      },
      "env.proxy_close_stream": (type) => {
        const t = n(type);
        if (!this.conns.has(this.effective)) return BadArgument;
        if (t !== 2 && t !== 3) return BadArgument;
        this.pendingClose.add(this.effective);
        return Ok;
      },
      "env.proxy_continue_stream": (type) => {
        const t = n(type);
        if (t === 3) return 12; // Unimplemented: Envoy 1.40 cannot resume a network filter's write path
        if (t > 3) return BadArgument;
        if (t === 2 && this.conns.has(this.effective)) this.pendingContinue.add(this.effective);
        return Ok;
      },
      "env.proxy_set_effective_context": (id) => {
        const i = n(id);
        if (!this.conns.has(i) && !this.rootsById.has(i)) return BadArgument;
        this.effective = i;
        return Ok;
      },
      "env.proxy_done": () => Ok,
      "env.proxy_get_shared_data": (keyPtr, keySize, valuePtrPtr, valueSizePtr, casPtr) => {
        const key = this.readString(n(keyPtr), n(keySize));
        const e = this.store.entries.get(key);
        if (!e) return NotFound;
        const rc = this.copyOut(e.value, n(valuePtrPtr), n(valueSizePtr));
        if (rc === Ok) this.view().setUint32(n(casPtr), e.cas, true);
        return rc;
      },
      "env.proxy_set_shared_data": (keyPtr, keySize, valuePtr, valueSize, cas) => {
        const key = this.readString(n(keyPtr), n(keySize));
        const e = this.store.entries.get(key);
        const c = n(cas) >>> 0;
        if (c !== 0 && e && e.cas !== c) return CasMismatch;
        this.store.entries.set(key, { value: this.readBytes(n(valuePtr), n(valueSize)), cas: this.store.nextCas++ });
        return Ok;
      },
      "env.proxy_define_metric": (type, namePtr, nameSize, idPtr) => {
        const name = this.readString(n(namePtr), n(nameSize));
        let id = this.metricIds.get(name);
        if (id === undefined) {
          id = this.metricIds.size + 1;
          this.metricIds.set(name, id);
          this.metricNamesById.set(id, name);
          this.metricValues.set(id, 0);
        }
        void type;
        this.view().setUint32(n(idPtr), id, true);
        return Ok;
      },
      "env.proxy_increment_metric": (id, offset) => {
        const i = n(id);
        if (!this.metricValues.has(i)) return NotFound;
        this.metricValues.set(i, (this.metricValues.get(i) ?? 0) + Number(offset as bigint));
        return Ok;
      },
      "env.proxy_record_metric": (id, value) => {
        const i = n(id);
        if (!this.metricValues.has(i)) return NotFound;
        this.metricValues.set(i, Number(value as bigint));
        return Ok;
      },
      "env.proxy_get_metric": (id, resultPtr) => {
        const i = n(id);
        if (!this.metricValues.has(i)) return NotFound;
        this.view().setBigUint64(n(resultPtr), BigInt(this.metricValues.get(i) ?? 0), true);
        return Ok;
      },
    };
  }
}
