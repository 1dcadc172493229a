// The host: plays Envoy's part for one filter VM (contexts, ABI imports, clock and ticks).
//
// Held buffers after a callback, as in Envoy 1.40 (source/extensions/common/wasm/context.cc keeps the
// context's network buffer pointer after a StopIteration; checked with testkit/envoy/fact-filters/hold-release.ts): the
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
import { randomFillSync } from "node:crypto";
import {
  BadArgument, BUFFER_DOWNSTREAM, BUFFER_PLUGIN_CONFIG, BUFFER_UPSTREAM, BUFFER_VM_CONFIG, CasMismatch, InternalFailure,
  LogLevel, NotFound, Ok, ParseFailure, Unimplemented, type Exports, type LogLevelName,
} from "./abi.js";
import { concat, toBytes, type Bytes } from "./bytes.js";
import { Connection } from "./connection.js";
import { FilterCrash } from "./filter-crash.js";
import { FilterLogs } from "./filter-logs.js";
import { GuestMemory } from "./guest-memory.js";
import { compiled, RELEASE_WASM } from "./filter-module.js";
import { Metrics } from "./metrics.js";
import { SharedStore } from "./shared-store.js";
import { envoyGrpcCluster, GrpcCalls, type GrpcCall } from "./grpc-calls.js";
import type { ConnectOptions, DecisionLine, LogEntry, RootHandle, StartOptions } from "./types.js";

export class FilterHost {
  exports!: Exports;
  private mem!: GuestMemory;
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
  private readonly metrics = new Metrics();
  private readonly filterLogs = new FilterLogs();
  private logLevel: number;
  crashed: Error | null = null;
  /** Payload bytes the filter copied out of the connection buffers (proxy_get_buffer_bytes on types 2 and 3). */
  bytesRead = 0;
  /** Every proxy_log call and the bytes it carried (whatever the level). */
  get logCalls(): number {
    return this.filterLogs.calls;
  }
  get logBytes(): number {
    return this.filterLogs.bytes;
  }
  /** Host calls (by import name, e.g. "proxy_get_property") that answer InternalFailure: fault injection. */
  readonly failing = new Set<string>();
  /** Host calls that succeed the given number of further times, then answer InternalFailure. */
  readonly failingAfter = new Map<string, number>();
  /** How many host calls the filter made, by import name. */
  readonly hostCalls = new Map<string, number>();
  /** Runs before each host call (by import name): another worker's write between two of this one's calls. */
  beforeHostCall: ((name: string) => void) | null = null;
  private readonly grpc = new GrpcCalls();
  private readonly nodeId: string | undefined;
  /** gRPC calls made (proxy_grpc_call) and not answered yet. */
  get grpcCalls(): readonly GrpcCall[] {
    return this.grpc.waiting;
  }

  private constructor(opts: StartOptions) {
    this.clockMs = opts.nowMs ?? Date.UTC(2026, 0, 5, 12, 0, 0); // a Monday, noon UTC
    this.logLevel = LogLevel[opts.logLevel ?? "info"];
    this.store = opts.shareWith ? opts.shareWith.store : new SharedStore();
    this.bufferLimit = opts.bufferLimitBytes ?? 1024 * 1024;
    this.nodeId = opts.nodeId;
  }

  /** Ends a gRPC call: status 0 delivers an empty response (proxy_on_grpc_receive), else proxy_on_grpc_close(status). */
  answerGrpc(token: number, status: number): void {
    const { root } = this.grpc.take(token);
    if (status === 0) this.callIn(root, "proxy_on_grpc_receive", () => this.exports.proxy_on_grpc_receive(root, token, 0));
    else this.callIn(root, "proxy_on_grpc_close", () => this.exports.proxy_on_grpc_close(root, token, status));
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
      const failable = (imp.module === "env" && imp.name !== "proxy_log") || key === "wasi_snapshot_preview1.random_get";
      ns[imp.name] = (...args: unknown[]) => {
        this.hostCalls.set(imp.name, (this.hostCalls.get(imp.name) ?? 0) + 1);
        this.beforeHostCall?.(imp.name);
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
    this.mem = new GuestMemory(this.exports);
  }

  /** Wasm linear memory in bytes. */
  memoryBytes(): number {
    return this.mem.byteLength;
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
      const crit = this.filterLogs.lastAtLeast(LogLevel.error, 3);
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
      rootId: opts.rootId ?? "picoseg",
      config: opts.config == null ? null : toBytes(opts.config),
      tickPeriodMs: 0,
      nextTickAt: 0,
      deleted: false,
    };
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

  /** Deletes a root context (proxy_on_done, proxy_on_delete); as Envoy does, its gRPC calls end unanswered. */
  deleteRoot(root: RootHandle): void {
    this.grpc.cancelOf(root.id);
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
    return this.metrics.counter(name);
  }

  metricNames(): string[] {
    return this.metrics.names();
  }

  /** Messages the filter logged at exactly `level` (all levels when omitted). */
  logs(level?: LogLevelName): string[] {
    return this.filterLogs.messages(level === undefined ? -1 : LogLevel[level]);
  }

  logEntriesSince(index: number): LogEntry[] {
    return this.filterLogs.since(index);
  }

  get logCount(): number {
    return this.filterLogs.count;
  }

  /** Forgets logs and decision lines (long fuzz runs). */
  clearLogs(): void {
    this.filterLogs.clear();
  }

  /** Every decision line the filter logged, parsed. */
  decisions(): DecisionLine[] {
    return this.filterLogs.decisions();
  }

  /** Decision lines of one connection (by the `connection` field). */
  decisionsFor(id: number): DecisionLine[] {
    return this.filterLogs.decisionsFor(id);
  }

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
      // As Envoy's host does: random bytes from the system (errno 0, success).
      "wasi_snapshot_preview1.random_get": (ptr, len) => {
        this.mem.writeBytes(n(ptr), randomFillSync(new Uint8Array(n(len))));
        return 0;
      },
      "env.abort": () => {
        throw new FilterCrash("abort");
      },
      "env.proxy_log": (level, ptr, size) => {
        this.filterLogs.record(n(level), this.mem.readString(n(ptr), n(size)), this.effective, n(size));
        return Ok;
      },
      "env.proxy_get_log_level": (ptr) => {
        this.mem.view().setUint32(n(ptr), this.logLevel, true);
        return Ok;
      },
      "env.proxy_get_current_time_nanoseconds": (ptr) => {
        this.mem.view().setBigUint64(n(ptr), BigInt(Math.floor(this.clockMs)) * 1_000_000n, true);
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
        const key = this.mem.readString(n(pathPtr), n(pathSize)).split("\0").join(".");
        let value: Uint8Array | undefined = this.currentProps()?.get(key);
        if (value === undefined) {
          const r = this.rootOfEffective();
          const enc = new TextEncoder();
          if (r && key === "plugin_name") value = enc.encode(r.pluginName);
          else if (r && key === "plugin_root_id") value = enc.encode(r.rootId);
          else if (key === "node.id" && this.nodeId !== undefined) value = enc.encode(this.nodeId);
        }
        if (value === undefined) return NotFound;
        return this.mem.copyOut(value, n(valuePtrPtr), n(valueSizePtr));
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
          const rc = this.mem.copyOut(buf.subarray(s, s + len), n(ptrPtr), n(sizePtr));
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
        const data = this.mem.readBytes(n(dataPtr), n(dataSize));
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
        this.mem.view().setUint32(n(lengthPtr), buf.length, true);
        this.mem.view().setUint32(n(flagsPtr), 0, true);
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
        if (t === 3) return Unimplemented; // Envoy 1.40 cannot resume a network filter's write path
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
        const key = this.mem.readString(n(keyPtr), n(keySize));
        const e = this.store.entries.get(key);
        if (!e) return NotFound;
        const rc = this.mem.copyOut(e.value, n(valuePtrPtr), n(valueSizePtr));
        if (rc === Ok) this.mem.view().setUint32(n(casPtr), e.cas, true);
        return rc;
      },
      "env.proxy_set_shared_data": (keyPtr, keySize, valuePtr, valueSize, cas) => {
        const key = this.mem.readString(n(keyPtr), n(keySize));
        const e = this.store.entries.get(key);
        const c = n(cas) >>> 0;
        if (c !== 0 && e && e.cas !== c) return CasMismatch;
        this.store.entries.set(key, { value: this.mem.readBytes(n(valuePtr), n(valueSize)), cas: this.store.nextCas++ });
        return Ok;
      },
      "env.proxy_grpc_call": (svcPtr, svcSize, namePtr, nameSize, methodPtr, methodSize, mdPtr, mdSize, msgPtr, msgSize, timeout, tokenPtr) => {
        void mdPtr;
        void mdSize;
        const root = this.rootsById.get(this.effective);
        if (!root) return BadArgument; // a callout belongs to a root context
        const cluster = envoyGrpcCluster(this.mem.readBytes(n(svcPtr), n(svcSize)));
        if (cluster === undefined) return ParseFailure;
        const token = this.grpc.add({
          root: root.id,
          cluster,
          service: this.mem.readString(n(namePtr), n(nameSize)),
          method: this.mem.readString(n(methodPtr), n(methodSize)),
          body: this.mem.readBytes(n(msgPtr), n(msgSize)),
          timeoutMs: n(timeout),
        });
        this.mem.view().setUint32(n(tokenPtr), token, true);
        return Ok;
      },
      "env.proxy_define_metric": (type, namePtr, nameSize, idPtr) => {
        void type;
        this.mem.view().setUint32(n(idPtr), this.metrics.define(this.mem.readString(n(namePtr), n(nameSize))), true);
        return Ok;
      },
      "env.proxy_increment_metric": (id, offset) => {
        const i = n(id);
        if (!this.metrics.has(i)) return NotFound;
        this.metrics.increment(i, Number(offset as bigint));
        return Ok;
      },
      "env.proxy_record_metric": (id, value) => {
        const i = n(id);
        if (!this.metrics.has(i)) return NotFound;
        this.metrics.record(i, Number(value as bigint));
        return Ok;
      },
      "env.proxy_get_metric": (id, resultPtr) => {
        const i = n(id);
        if (!this.metrics.has(i)) return NotFound;
        this.mem.view().setBigUint64(n(resultPtr), BigInt(this.metrics.value(i)), true);
        return Ok;
      },
    };
  }
}

