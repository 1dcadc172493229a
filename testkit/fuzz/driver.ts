// The fuzz driver: episodes of one configuration each, many connections per
// episode, random reads, closes, clock jumps and ticks, all through the host
// emulator; every invariant failure or filter trap throws a FuzzFailure that
// names the seed and episode (rerun with PICOSEG_FUZZ_SEED to reproduce).
import { Connection, FilterCrash, FilterHost, LogLevel, type ConnectOptions, type LogLevelName, type RootHandle } from "../filter-host/index.js";
import { anyConfig, inSchedule, PRINCIPAL_POOL, type ConfigCase } from "./configs.js";
import { mix, Rng } from "./prng.js";
import { payload, reads } from "./streams.js";

export const REASONS = [
  "no-config", "no-rule", "source", "port", "protocol", "schedule", "bytes-in", "bytes-out", "message-size",
  "duration", "source-bytes", "source-connections", "source-ports", "quarantined", "revoked",
] as const;

export class FuzzFailure extends Error {}

interface Direction {
  reads: Uint8Array[];
  next: number;
  ended: boolean;
}

interface Live {
  c: Connection;
  /** Honest: Envoy's buffer semantics (fromClient/fromServer); else raw sizes that lie. */
  honest: boolean;
  epoch: number;
  cfg: ConfigCase;
  toServer: Direction;
  toClient: Direction;
  /** Counted (allowed or denied) at connect; else its admission waits for the TLS handshake. */
  decidedAtConnect: boolean;
  /** Host clock at connect, and how many times the clock had gone backwards by then. */
  openedAt: number;
  backJumps: number;
}

export interface FuzzStats {
  episodes: number;
  connections: number;
  dataCalls: number;
  rawCalls: number;
  ticksAndJumps: number;
  configs: Record<ConfigCase["kind"], number>;
  rejected: number;
  closedByFilter: number;
  denials: Record<string, number>;
  /** Connections whose delivered bytes were checked against a byte budget, or an all-audit configuration. */
  budgetChecks: number;
  auditChecks: number;
  durationChecks: number;
  scheduleChecks: number;
  faultEpisodes: number;
  memoryAfterWarmup: number;
  memoryAtEnd: number;
  memoryMax: number;
}

export interface FuzzOptions {
  seed: number;
  /** Stop once this many connections (byte streams, both directions) have run. */
  streams: number;
  /** Episodes that count as warm-up for the memory check. */
  warmupEpisodes: number;
}

const LEVELS: readonly LogLevelName[] = ["debug", "info", "info", "warn", "error", "critical"];
const START_MS = Date.UTC(2026, 0, 5, 12, 0, 0);

const V4_SOURCES = ["10.1.2.3", "10.1.9.7", "192.168.1.7", "127.0.0.1", "10.1.0.0", "10.255.255.255", "0.0.0.0", "8.8.8.8"];
const V6_SOURCES = ["::1", "fd00:1:2::7", "fe80::1", "2001:db8::5", "::", "::ffff:10.1.2.3", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"];
const BAD_SOURCES = ["garbage", "", "[::1", "1.2.3.4:", "999.1.1.1:1", "1.2.3.4:5:6", "[fe80::1%eth0]:1", "[]:1", ":", "[:::]:1",
  "01.2.3.4:1", "1.2.3:4", "[1:2:3:4:5:6:7:8:9]:1", "1.2.3.4/8", "x".repeat(2000), "[" + "f".repeat(50) + "]:1", "\u0000\u0001"];

function i64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v, true);
  return b;
}

function connectOptions(rng: Rng, cfg: ConfigCase): ConnectOptions {
  const o: ConnectOptions = {};
  const s = rng.next();
  if (s < 0.45) o.source = `${rng.pick(V4_SOURCES)}:${rng.int(0, 65535)}`;
  else if (s < 0.6) o.source = `[${rng.pick(V6_SOURCES)}]:${rng.int(0, 65535)}`;
  else if (s < 0.7) o.source = `${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}:${rng.int(0, 65535)}`;
  else if (s < 0.78) o.source = rng.pick(BAD_SOURCES);
  else if (s < 0.82) o.source = null;
  else if (s < 0.85) o.source = rng.chance(0.5) ? rng.pick(V4_SOURCES) : rng.pick(V6_SOURCES); // bare address
  // else the emulator's default 10.1.2.3:40000 (a frequent source: perSource and quarantine build up)
  const p = rng.next();
  if (p < 0.5 && cfg.ports.length > 0) {
    const i = rng.int(0, cfg.ports.length / 2 - 1) * 2;
    o.port = rng.int(cfg.ports[i]!, cfg.ports[i + 1]!);
  } else if (p < 0.7) o.port = rng.pick([5432, 80, 443, 6379, 8000, 0, 65535]);
  else if (p < 0.8) o.port = rng.int(0, 65535);
  else if (p < 0.85) o.port = null;
  const r = rng.next();
  if (r < 0.3) o.principal = rng.pick(PRINCIPAL_POOL);
  else if (r < 0.4 && cfg.principals.length > 0) o.principal = rng.pick(cfg.principals).replace(/\*/g, "x");
  else if (r < 0.45) o.principal = rng.pick(["", "\"\\\n\t\u0001", "é€𝄞", "s".repeat(1500), "spiffe://a/\"quoted\""]);
  if (rng.chance(0.05)) o.mtls = !(o.mtls ?? o.principal != null);
  if (rng.chance(0.1)) o.tls = rng.chance(0.5);
  // Envoy calls proxy_on_new_connection before the TLS handshake: the principal may come later.
  if (rng.chance(0.3)) o.handshake = "pending";
  if (rng.chance(0.06)) {
    // Properties as a confused host might present them.
    const props: Record<string, Uint8Array | string | null> = {};
    const k = rng.int(0, 4);
    if (k === 0) props["destination.port"] = rng.pick([Uint8Array.of(1, 2, 3, 4), i64le(-1n), i64le(70000n), i64le(-(2n ** 63n)), new Uint8Array(0), i64le(2n ** 63n - 1n)]);
    else if (k === 1) props["source.address"] = rng.bytes(rng.int(0, 64)); // not even UTF-8
    else if (k === 2) props["connection.mtls"] = rng.bytes(rng.int(0, 3));
    else if (k === 3) props["connection.uri_san_peer_certificate"] = rng.bytes(rng.int(0, 2000));
    else props["destination.port"] = null;
    o.properties = props;
  }
  return o;
}

export class Fuzzer {
  readonly stats: FuzzStats;
  private host!: FilterHost;
  private epoch = 0;
  private live: Live[] = [];
  private cfg: ConfigCase | null = null;
  /** Effective validity of the active configuration, as the rejection log told (null: unknown). */
  private rejected: boolean | null = null;
  private counterNames: string[] = [];
  private lastCounters = new Map<string, number>();
  private episode = -1;
  private trail: string[] = [];
  private readonly traceMemory = process.env.PICOSEG_FUZZ_TRACE_MEMORY !== undefined;
  private lastMemory = 0;
  /** Host calls failing on purpose in this episode (host.failing): only the no-trap rules apply. */
  private faults = false;
  /** Host time right after the last clock jump. */
  private lastJumpAt = 0;
  /** Times the clock was set backwards (the duration check needs a monotonic clock). */
  private backJumps = 0;
  private lastCalls = new Map<string, number>();
  private lastLogBytes = 0;
  /** The host's log level during this episode. */
  private level: number = LogLevel.info;

  constructor(private readonly opts: FuzzOptions) {
    this.stats = {
      episodes: 0, connections: 0, dataCalls: 0, rawCalls: 0, ticksAndJumps: 0,
      configs: { valid: 0, invalid: 0, garbage: 0 }, rejected: 0, closedByFilter: 0, denials: {}, budgetChecks: 0, auditChecks: 0, durationChecks: 0, scheduleChecks: 0, faultEpisodes: 0,
      memoryAfterWarmup: 0, memoryAtEnd: 0, memoryMax: 0,
    };
  }

  async run(): Promise<FuzzStats> {
    this.host = await FilterHost.start({ config: null, nowMs: START_MS });
    this.counterNames = this.host.metricNames();
    this.checkCounters();
    this.warmUpExtremes();
    while (this.stats.connections < this.opts.streams) {
      this.episode++;
      try {
        this.runEpisode(new Rng(mix(this.opts.seed, this.episode)));
      } catch (e) {
        const where = `seed ${this.opts.seed} episode ${this.episode} (rerun: PICOSEG_FUZZ_SEED=${this.opts.seed})`;
        const cfgText = this.cfg?.text == null ? "(none)" : JSON.stringify(this.cfg.text.length > 3000 ? this.cfg.text.slice(0, 3000) + "…" : this.cfg.text);
        const kind = e instanceof FilterCrash ? "the filter trapped" : e instanceof FuzzFailure ? "an invariant failed" : "the driver failed";
        throw new FuzzFailure(`${kind} at ${where}: ${(e as Error).message}\nconfig (${this.cfg?.how}): ${cfgText}\nlast actions:\n  ${this.trail.slice(-25).join("\n  ")}`);
      }
      this.stats.episodes++;
      const mem = this.host.memoryBytes();
      if (process.env.PICOSEG_FUZZ_TRACE_MEMORY && mem > this.stats.memoryMax) console.log(`episode ${this.episode}: memory ${mem} (${this.cfg?.how}; ${this.stats.connections} connections so far)`);
      this.stats.memoryMax = Math.max(this.stats.memoryMax, mem);
      if (this.episode + 1 === this.opts.warmupEpisodes) this.stats.memoryAfterWarmup = mem;
    }
    for (const l of [...this.live]) l.c.closeFromClient();
    this.sweep();
    this.host.advance(1000); // a tick with nothing live: the filter collects its cyclic garbage
    this.stats.memoryAtEnd = this.host.memoryBytes();
    if (this.stats.memoryAfterWarmup === 0) this.stats.memoryAfterWarmup = this.stats.memoryAtEnd;
    return this.stats;
  }

  /**
   * Warm-up with the largest inputs the filter takes, so that the memory check
   * after warm-up measures leaks, not a first large input: Wasm memory is a
   * high-water mark (it never shrinks), and the filter's heap needs room in
   * proportion to its largest configuration and its longest decision line. Texts
   * the filter reads are capped at 1 KiB (facts.ts MAX_TEXT); a 1 KiB principal
   * and source of control characters make the longest line (each byte a \u escape).
   */
  private warmUpExtremes(): void {
    const many = Array.from({ length: 400 }, (_, i) => `port ${i} ${i}\nprincipal p${i}\nip 10.${i & 255}.0.0/16`).join("\n");
    const every = "protocol unknown\nmaxBytesIn 100000\nmaxBytesOut 100000\nmaxMessageBytes 65536\nmaxDurationSeconds 5\nperSource 60 100000000 100000 3";
    const configs = [
      `picoseg 1\nsegment a/b enforce\nquarantine 1000 10 10\nrule ${"r".repeat(20000)}\n${many}\nend\n`,
      `picoseg 1\nsegment a/b enforce\nquarantine 1000 10 10\nrule d\n${every}\nframing delimited 0d0a\nrule l\nframing lengthPrefixed 0 4 big 0\nend\n`,
      `picoseg 1\nsegment a/b audit\nrule d\n${every}\nframing delimited 0d0a\nport 1 1\nend\n`,
    ];
    const ctl = new Uint8Array(1024).fill(1);
    const quotes = new Uint8Array(1024).fill(0x22);
    for (const cfg of configs) {
      for (const level of ["debug", "info"] as const) {
        this.host.setLogLevel(level);
        this.host.reconfigure(cfg);
        const conns: Connection[] = [];
        for (const text of [ctl, quotes]) {
          for (const port of [1, 2, 77, 5432]) {
            conns.push(this.host.connect({
              principal: "x",
              port,
              properties: { "connection.uri_san_peer_certificate": text, "source.address": text },
            }));
          }
        }
        for (const c of conns) {
          c.fromClient(new Uint8Array(40_000).fill(0x61));
          c.fromServer(new Uint8Array(40_000).fill(0x0a));
        }
        this.host.advance(6000);
        for (const c of conns) c.closeFromClient();
        this.host.advance(1000);
        this.host.clearLogs();
      }
    }
    this.host.setLogLevel("info");
    this.host.reconfigure(null);
    this.checkCounters();
  }

  private fail(msg: string): never {
    throw new FuzzFailure(msg);
  }

  private note(s: string): void {
    if (this.traceMemory) {
      const m = this.host.memoryBytes();
      if (m > this.lastMemory) {
        console.log(`memory ${this.lastMemory} -> ${m} before: ${s}; previous: ${this.trail.slice(-3).join(" | ")}`);
        const delta = [...this.host.hostCalls].map(([k, v]) => `${k}:${v - (this.lastCalls.get(k) ?? 0)}`).filter((x) => !x.endsWith(":0"));
        console.log(`host calls since the previous action: ${delta.join(" ")}; log bytes ${this.host.logBytes - this.lastLogBytes}`);
        console.log(`episode trail:\n${this.trail.join("\n")}\nconfig: ${JSON.stringify(this.cfg?.text)}\nlive: ${this.live.map((l) => `${l.c.id}@${l.epoch}/${this.epoch} ${JSON.stringify(l.cfg.text)}`).join("\n")}`);
      }
      this.lastMemory = m;
      this.lastCalls = new Map(this.host.hostCalls);
      this.lastLogBytes = this.host.logBytes;
    }
    this.trail.push(s);
    if (this.trail.length > 200) this.trail.splice(0, 100);
  }

  private counters(): Map<string, number> {
    const m = new Map<string, number>();
    for (const n of this.counterNames) m.set(n, this.host.counter(n));
    return m;
  }

  /** Counters never decrease. */
  private checkCounters(): Map<string, number> {
    const now = this.counters();
    for (const [n, v] of this.lastCounters) {
      if ((now.get(n) ?? 0) < v) this.fail(`counter ${n} decreased from ${v} to ${now.get(n)}`);
    }
    this.lastCounters = now;
    return now;
  }

  private denied(): number {
    let s = 0;
    for (const r of REASONS) s += this.host.counter(`picoseg.denied.${r}`);
    return s;
  }

  private applyConfig(rng: Rng): void {
    const cfg = anyConfig(rng);
    this.stats.configs[cfg.kind]++;
    this.epoch++;
    const before = this.host.logCount;
    const level = rng.pick(LEVELS);
    this.host.setLogLevel(level);
    this.level = LogLevel[level];
    let root: RootHandle;
    if (rng.chance(0.12)) {
      root = this.host.addRoot({ config: cfg.text });
      this.note(`addRoot ${root.id} (${cfg.how})`);
    } else {
      root = this.host.newestRoot;
      this.host.reconfigure(cfg.text, root);
      this.note(`reconfigure root ${root.id} (${cfg.how})`);
    }
    this.cfg = cfg;
    const rejectedLog = this.host.logEntriesSince(before).some((l) => l.level === 4 && l.message.includes("configuration rejected"));
    if (level === "critical") this.rejected = cfg.kind === "garbage" ? null : cfg.kind === "invalid";
    else {
      if (cfg.kind === "valid" && rejectedLog) {
        this.fail(`a configuration that follows CONFIG.md's grammar was rejected: ${this.host.logs("error").slice(-1)[0]}`);
      }
      if (cfg.kind === "invalid" && !rejectedLog) this.fail("a configuration CONFIG.md says is invalid was accepted (no rejection logged)");
      this.rejected = rejectedLog;
    }
    if (this.rejected === true) this.stats.rejected++;
    // Old roots without live connections go away, as Envoy drops a replaced filter config.
    for (const r of this.host.roots) {
      if (r === root || r.deleted) continue;
      if (!this.live.some((l) => l.c.root === r)) this.host.deleteRoot(r);
    }
  }

  private open(rng: Rng): void {
    const cfg = this.cfg!;
    const opts = connectOptions(rng, cfg);
    const allowed0 = this.host.counter("picoseg.allowed");
    const denied0 = this.denied();
    const noConfig0 = this.host.counter("picoseg.denied.no-config");
    const c = this.host.connect(opts);
    this.stats.connections++;
    this.note(`open ${c.id} ${JSON.stringify(opts).slice(0, 300)} -> ${c.closed ? "closed" : "open"}`);
    const dAllowed = this.host.counter("picoseg.allowed") - allowed0;
    const dDenied = this.denied() - denied0;
    const dNoConfig = this.host.counter("picoseg.denied.no-config") - noConfig0;
    // Counted once at connect (allowed, or denied and closed), or not yet: admission that
    // needs the peer's principal waits for the TLS handshake (filter/README.md), and one under
    // serverName rules for the client's ClientHello.
    if (this.faults) {
      // Host calls fail on purpose: counters and logs may be lost; only no-trap rules apply.
    } else if (c.closed) {
      if (c.closedBy !== "filter") this.fail(`connection ${c.id} closed at connect by ${c.closedBy}`);
      if (c.newConnectionStatus !== 1) this.fail(`connection ${c.id} denied at connect but onNewConnection returned ${c.newConnectionStatus}`);
      if (dDenied !== 1 || dAllowed !== 0) this.fail(`denied connection ${c.id} counted ${dDenied} denials and ${dAllowed} allowed`);
    } else if (dDenied !== 0 || dAllowed > 1) this.fail(`open connection ${c.id} counted ${dAllowed} allowed and ${dDenied} denials`);
    else if (dAllowed === 0 && !(opts.tls ?? opts.principal != null) && !cfg.serverNames) this.fail(`plain-TCP connection ${c.id} was neither allowed nor denied at connect`);
    if (!this.faults && this.rejected === true && (!c.closed || dNoConfig !== 1)) this.fail(`under a rejected configuration connection ${c.id} was not denied with no-config`);
    if (!this.faults && this.rejected === false && dNoConfig !== 0) this.fail(`under an accepted configuration connection ${c.id} was denied with no-config`);
    if (!this.faults && this.rejected === false && cfg.schedule !== null) {
      this.stats.scheduleChecks++;
      if (dAllowed === 1 && !inSchedule(cfg.schedule, this.host.now())) this.fail(`connection ${c.id} was allowed outside the schedule every rule has`);
    }
    if (!this.faults && cfg.allAudit && this.rejected === false && c.closed) this.fail(`an all-audit configuration closed connection ${c.id} at connect`);
    const dir = (fromServer: boolean): Direction => ({ reads: reads(rng, payload(rng, fromServer, cfg.framings)), next: 0, ended: false });
    const l: Live = {
      c, honest: rng.chance(0.8), epoch: this.epoch, cfg, toServer: dir(false), toClient: dir(true), openedAt: this.host.now(), backJumps: this.backJumps,
      decidedAtConnect: dAllowed + dDenied === 1,
    };
    if (c.closed) this.finish(l);
    else this.live.push(l);
  }

  private data(rng: Rng, l: Live): void {
    const up = rng.chance(0.35);
    const d = up ? l.toClient : l.toServer;
    const c = l.c;
    let status: number | null;
    if (l.honest) {
      if (d.ended) return;
      const chunk = d.next < d.reads.length ? d.reads[d.next++]! : rng.bytes(rng.size(40));
      const end = (d.next === d.reads.length && rng.chance(0.3)) || rng.chance(0.02);
      d.ended = end;
      this.note(`${c.id} ${up ? "server" : "client"} sends ${chunk.length}${end ? " end" : ""}`);
      status = up ? c.fromServer(chunk, { end }) : c.fromClient(chunk, { end });
      this.stats.dataCalls++;
    } else {
      // A host whose buffer and reported size disagree: shrinking, zero, larger, or absurd.
      const held = up ? c.heldFromServer : c.heldFromClient;
      const fresh = d.next < d.reads.length ? d.reads[d.next++]! : rng.bytes(rng.size(40));
      const k = rng.int(0, 3);
      let buf: Uint8Array;
      if (k === 0) { buf = new Uint8Array(held.length + fresh.length); buf.set(held); buf.set(fresh, held.length); }
      else if (k === 1) buf = fresh;
      else if (k === 2) buf = new Uint8Array(0);
      else buf = rng.bytes(rng.size(3000));
      const s = rng.int(0, 6);
      const size = s === 0 ? buf.length : s === 1 ? 0 : s === 2 ? rng.int(0, buf.length) : s === 3 ? buf.length + rng.int(1, 100)
        : s === 4 ? 0xffffffff : s === 5 ? Math.max(0, held.length - rng.int(0, 5)) : rng.u32();
      const end = rng.chance(0.1);
      this.note(`${c.id} raw ${up ? "upstream" : "downstream"} buffer ${buf.length} size ${size}${end ? " end" : ""}`);
      status = c.rawData(up, buf, size, end);
      this.stats.rawCalls++;
    }
    if (status === null) return;
    if (status !== 0 && status !== 1) this.fail(`data callback of ${c.id} returned ${status}`);
    if (c.closed && c.closedBy === "filter" && status !== 1) {
      this.fail(`connection ${c.id} was closed by the filter in a data callback that returned Continue: the violating bytes went through`);
    }
  }

  /** In some episodes, host calls fail (InternalFailure) as a broken or overloaded host would answer. */
  private setFaults(rng: Rng): void {
    this.host.failing.clear();
    this.faults = rng.chance(0.06);
    if (!this.faults) return;
    this.stats.faultEpisodes++;
    const calls = ["proxy_get_property", "proxy_get_buffer_bytes", "proxy_get_shared_data", "proxy_set_shared_data",
      "proxy_get_current_time_nanoseconds", "proxy_close_stream", "proxy_increment_metric", "proxy_set_effective_context",
      "proxy_get_log_level", "proxy_get_buffer_status", "proxy_set_tick_period_milliseconds", "proxy_define_metric"];
    for (let i = rng.int(1, 3); i > 0; i--) this.host.failing.add(rng.pick(calls));
    this.note(`failing host calls: ${[...this.host.failing].join(" ")}`);
  }

  /** Checks a connection that ended; it is gone from `live`. */
  private finish(l: Live): void {
    const c = l.c;
    if (c.closedBy === "filter") this.stats.closedByFilter++;
    if (l.epoch !== this.epoch || this.faults) return; // lived across a configuration change or host faults: only the no-trap rules apply
    const cfg = l.cfg;
    if (this.rejected === true) {
      if (c.deliveredToServer.length !== 0 || c.deliveredToClient.length !== 0) this.fail(`no-config connection ${c.id} passed bytes`);
      return;
    }
    if (cfg.kind !== "valid" || this.rejected !== false) return;
    if (cfg.allAudit) {
      this.stats.auditChecks++;
      if (c.closedBy === "filter") this.fail(`an all-audit configuration closed connection ${c.id} (${c.closeReason})`);
    }
    if (!l.honest) return;
    if (cfg.boundIn !== null || cfg.boundOut !== null) this.stats.budgetChecks++;
    if (cfg.boundIn !== null && c.deliveredToServer.length > cfg.boundIn) {
      this.fail(`the server received ${c.deliveredToServer.length} bytes on ${c.id}; every rule has maxBytesIn <= ${cfg.boundIn}`);
    }
    // Also while admission waits for the TLS handshake: server bytes are held, then counted.
    if (cfg.boundOut !== null && c.deliveredToClient.length > cfg.boundOut) {
      this.fail(`the client received ${c.deliveredToClient.length} bytes on ${c.id}; every rule has maxBytesOut <= ${cfg.boundOut}`);
    }
  }

  /**
   * Ticks come every 500 ms and the last one was less than 500 ms ago: under a rule
   * with maxDurationSeconds D, a connection D + 1 s old must be closed (enforce mode).
   */
  private checkDurations(): void {
    for (const l of this.live) {
      const d = l.cfg.durationBound;
      if (d === null || this.faults || l.epoch !== this.epoch || this.rejected !== false || l.backJumps !== this.backJumps) continue;
      const age = this.host.now() - l.openedAt;
      if (age < d * 1000 + 1000) continue;
      // A connection whose admission waited for its handshake is decided by a tick after 5 s,
      // and its age judged by a later tick: allow three ticks after both, and after a clock jump.
      if (!l.decidedAtConnect && this.host.now() - Math.max(l.openedAt + Math.max(d, 5) * 1000, this.lastJumpAt) < 1500) continue;
      this.stats.durationChecks++;
      if (!l.c.closed) this.fail(`connection ${l.c.id} is ${age} ms old and still open; every rule has maxDurationSeconds ${d}`);
    }
  }

  /**
   * Under a schedule every rule has, a connection is closed within a second of its
   * window ending. Windows are whole minutes, so when both now and 600 ms ago lie
   * outside every window, so did the last tick (at most 500 ms ago, or 100 ms after a
   * clock jump), which must have closed the connection.
   */
  private checkSchedules(): void {
    const now = this.host.now();
    for (const l of this.live) {
      const sch = l.cfg.schedule;
      if (sch === null || this.faults || !l.decidedAtConnect || l.epoch !== this.epoch || this.rejected !== false) continue;
      if (inSchedule(sch, now) || inSchedule(sch, now - 600)) continue;
      this.stats.scheduleChecks++;
      if (!l.c.closed) this.fail(`connection ${l.c.id} is open at ${new Date(now).toISOString()}, outside the schedule every rule has`);
    }
  }

  /** Moves connections closed by the filter's tick or a peer out of `live`. */
  private sweep(): void {
    const still: Live[] = [];
    for (const l of this.live) {
      if (l.c.closed) this.finish(l);
      else still.push(l);
    }
    this.live = still;
  }

  private runEpisode(rng: Rng): void {
    this.trail = [];
    this.sweep();
    const logStart = this.host.logCount;
    this.applyConfig(rng);
    if (rng.chance(0.08)) {
      // Two configurations before any tick: live connections may lose their rule twice.
      this.applyConfig(rng);
    }
    this.setFaults(rng);
    const counters0 = this.checkCounters();
    // Under a rejected configuration every connection is denied at connect: a few suffice.
    const target = this.rejected === true ? rng.int(5, 40) : rng.int(50, 450);
    const concurrency = rng.int(1, 40);
    let opened = 0;
    while (opened < target || this.live.length > 0) {
      const a = rng.next();
      if (this.live.length === 0 || (opened < target && this.live.length < concurrency && a < 0.25)) {
        this.open(rng);
        opened++;
        continue;
      }
      if (opened >= target && this.live.length <= 3 && rng.chance(0.5) && this.epoch % 3 === 0) break; // carry a few over
      const i = rng.int(0, this.live.length - 1);
      const l = this.live[i]!;
      if (a < 0.03) {
        this.note(`${l.c.id} completes its TLS handshake`);
        l.c.completeHandshake();
      } else if (a < 0.82) this.data(rng, l);
      else if (a < 0.9) {
        this.note(`${l.c.id} closed by ${a < 0.86 ? "client" : "server"}`);
        if (a < 0.86) l.c.closeFromClient(); else l.c.closeFromServer();
      } else if (a < 0.985) {
        const ms = rng.chance(0.7) ? rng.int(0, 700) : rng.int(700, 5000);
        this.note(`advance ${ms} ms`);
        this.host.advance(ms);
        this.stats.ticksAndJumps++;
      } else {
        // Forward by a minute to a week, back by up to a day, or to any instant of 2025–2027
        // (where the generated time-zone transitions are), so the clock does not drift away.
        const j = rng.next();
        const jump = j < 0.8 ? rng.int(60_000, 8 * 86_400_000) : j < 0.9 ? -rng.int(1, 86_400_000)
          : Date.UTC(2025, 9, 1) + rng.int(0, 540 * 86_400_000) - this.host.now();
        this.note(`clock jumps ${jump} ms`);
        if (jump < 0) this.backJumps++;
        this.host.setTime(this.host.now() + jump);
        this.lastJumpAt = this.host.now();
        this.host.advance(600);
        this.stats.ticksAndJumps++;
      }
      if (a >= 0.9) {
        this.checkDurations();
        this.checkSchedules();
      }
      if (!l.c.closed && l.c.closedBy === null && rng.chance(0.001)) l.c.closeFromServer();
      this.sweep();
    }
    const faulty = this.faults;
    this.host.failing.clear();
    this.faults = false;
    const counters1 = this.checkCounters();
    // One decision line per counted decision (deny lines log at warn).
    let lines = 0;
    for (const e of this.host.logEntriesSince(logStart)) {
      if (!e.message.startsWith('{"picoseg"')) continue;
      let d: { picoseg?: unknown; reason?: unknown; connection?: unknown };
      try {
        d = JSON.parse(e.message) as typeof d;
      } catch {
        this.fail(`a decision line is not JSON: ${e.message.slice(0, 300)}`);
      }
      if (d.picoseg === "allow") continue;
      if ((d.picoseg !== "deny" && d.picoseg !== "audit") || !REASONS.includes(d.reason as (typeof REASONS)[number])) {
        this.fail(`a decision line has an unknown verdict or reason: ${e.message.slice(0, 300)}`);
      }
      const key = `${d.picoseg as string}:${d.reason as string}`;
      this.stats.denials[key] = (this.stats.denials[key] ?? 0) + 1;
      lines++;
    }
    let counted = 0;
    for (const [n, v] of counters1) if (n.startsWith("picoseg.denied.") || n.startsWith("picoseg.audit.")) counted += v - (counters0.get(n) ?? 0);
    if (!faulty && this.level <= LogLevel.warn && lines !== counted) this.fail(`${counted} decisions were counted but ${lines} decision lines logged`);
    if (!faulty && this.level > LogLevel.warn && lines !== 0) this.fail(`decision lines logged at a host log level above warn`);
    this.host.clearLogs();
  }
}
