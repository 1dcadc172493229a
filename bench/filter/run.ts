// picoseg filter benchmarks through the host emulator (testkit/filter-host/).
// Prints figures and ratios against baselines measured in the same run; asserts nothing.
//
//   npm run bench            (or: npx tsx bench/filter/run.ts)
//   npm run bench -- --quick (fewer batches, for a smoke run)
//   npm run bench -- --no-sdk (skip (d), the SDK-as-published comparison)
//   npm run bench -- --baseline=FILE.wasm (adds FILE's rows to (f), interleaved: before/after a change)
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { FilterHost, RELEASE_WASM, type ConnectOptions, type Connection } from "../../testkit/filter-host/index.js";
import { sdkVariantWasm } from "./sdk.js";

const args = new Set(process.argv.slice(2));
/** Another build of the module (e.g. main's, copied aside) measured next to this one in (a). */
const BASELINE_WASM = process.argv.slice(2).find((a) => a.startsWith("--baseline="))?.slice("--baseline=".length) ?? null;
const QUICK = args.has("--quick");
const BATCHES = QUICK ? 3 : 11;
const WARMUP_BATCHES = QUICK ? 1 : 3;

/** Every factor of docs/design.md on one rule, with limits the bench never reaches. */
export const ALL_FACTORS = [
  "picoseg 1",
  "generation 1",
  "tz 0 60 1774746000 120 1792890000 60",
  "segment payments/payments-db enforce",
  "quarantine 3 600 900",
  "rule api-to-db",
  "principal spiffe://cluster.local/ns/payments/*",
  "ip 10.0.0.0/8",
  "ip ::1/128",
  "notip 10.9.0.0/16",
  "port 5432 5432",
  "port 8000 8100",
  "protocol postgres",
  "protocol unknown",
  "schedule 0",
  "window 0 10080",
  "maxBytesIn 9007199254740992",
  "maxBytesOut 9007199254740992",
  "maxMessageBytes 65536",
  "framing lengthPrefixed 1 4 big -4",
  "maxDurationSeconds 86400",
  "perSource 3600 9007199254740992 100000000 4",
  "end",
  "",
].join("\n");

export const ALLOW_ALL = "picoseg 1\nsegment payments/payments-db enforce\nrule any\nend\n";

/** Connection facts that the all-factors rule admits: 100 principals (so 100 per-source records), sources in 10/8. */
export function facts(i: number): ConnectOptions {
  return {
    source: `10.${1 + (i % 8)}.${(i >> 8) & 255}.${i & 255}:${40000 + (i % 20000)}`,
    port: 5432,
    principal: `spiffe://cluster.local/ns/payments/sa/api-${i % 100}`,
  };
}

/** A Postgres-style message under `framing lengthPrefixed 1 4 big -4`: type, int32 length counting itself, payload. */
export function pgMessage(total: number): Uint8Array {
  const m = new Uint8Array(total).fill(0x78);
  m[0] = 0x51;
  new DataView(m.buffer).setUint32(1, total - 1, false);
  return m;
}

const now = (): bigint => process.hrtime.bigint();

// A full collection between batches (untimed), so that garbage of an earlier section is not collected inside a timed one.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

function fmtRatio(r: number): string {
  return r >= 100 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

export interface Variant {
  name: string;
  wasm: string;
  config: string;
  /** Facts of the i-th connection. */
  facts: (i: number) => ConnectOptions;
  /** Connections per timed batch (fewer for slow variants). */
  batch: (live: number) => number;
}

/** Opens `live` connections (each sends one first message when `prime` is given), clearing logs as it goes. */
function fill(host: FilterHost, v: Variant, live: number, prime: Uint8Array | null): Connection[] {
  const out: Connection[] = [];
  for (let i = 0; i < live; i++) {
    const c = host.connect(v.facts(i));
    if (c.closed) throw new Error(`${v.name}: connection ${i} was denied (${c.closeReason}): the bench configuration must admit it`);
    if (prime) c.fromClient(prime);
    out.push(c);
    if (i % 100 === 99) host.clearLogs();
  }
  host.clearLogs();
  return out;
}

/** One host per live count, each already holding that many open connections. */
async function hostsHolding(v: Variant, lives: number[]): Promise<FilterHost[]> {
  const hosts: FilterHost[] = [];
  for (const live of lives) {
    const host = await FilterHost.start({ config: v.config, wasmPath: v.wasm, logLevel: "info" });
    fill(host, v, live, null);
    hosts.push(host);
  }
  return hosts;
}

interface SetupCost {
  /** Median ns per new connection, by live count. */
  ns: number[];
  /** Bytes the filter logged per new connection (at the host's info level), at the largest live count. */
  logBytes: number;
  /** Host calls the module made per new connection, at the largest live count. */
  hostCalls: number;
}

/**
 * (a) Median cost of one new connection (proxy_on_context_create + proxy_on_new_connection,
 * through the emulator's connect) with `live` connections open, for each live count.
 * One host per live count; connections open on each host in turn, each timed on its own,
 * and the figure is the median over every timed connection: a load spike or a garbage
 * collection of the emulator's JavaScript inflates single samples, not the median (a
 * per-batch sum let collections that recur at the same point of each batch bias one host).
 * Each batch opens k connections per host, then closes
 * them (untimed), so the live count stays put.
 */
export async function setupCost(v: Variant, lives: number[]): Promise<SetupCost> {
  const hosts = await hostsHolding(v, lives);
  const samples: number[][] = lives.map(() => []);
  const next = [...lives];
  let logBytes = 0;
  let hostCalls = 0;
  const callsOf = (host: FilterHost): number => [...host.hostCalls.values()].reduce((a, b) => a + b, 0);
  const k = Math.min(...lives.map((l) => v.batch(l)));
  const last = hosts.length - 1;
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b++) {
    gc();
    const batches: Connection[][] = hosts.map(() => new Array<Connection>(k));
    const log0 = hosts[last]!.logBytes;
    const calls0 = callsOf(hosts[last]!);
    const timed = b >= WARMUP_BATCHES;
    // One connection on each host in turn: a load spike on the machine touches every live count alike.
    for (let i = 0; i < k; i++) {
      for (let h = 0; h < hosts.length; h++) {
        const t0 = now();
        batches[h]![i] = hosts[h]!.connect(v.facts(next[h]!++));
        const t1 = now();
        if (timed) samples[h]!.push(Number(t1 - t0));
      }
    }
    logBytes = (hosts[last]!.logBytes - log0) / k;
    hostCalls = (callsOf(hosts[last]!) - calls0) / k;
    for (let h = 0; h < hosts.length; h++) {
      for (const c of batches[h]!) {
        if (c.closed) throw new Error(`${v.name}: a bench connection was denied (${c.closeReason})`);
        c.closeFromClient();
      }
      hosts[h]!.clearLogs();
    }
  }
  return { ns: samples.map(median), logBytes, hostCalls };
}

/**
 * (a) The same, the exports alone: proxy_on_context_create + proxy_on_new_connection
 * called directly (through host.callIn, so the context is effective) for ids the
 * emulator does not know, so no emulator Connection is built. The filter then sees
 * no properties (every fact absent): only a rule without `from` and `ports` admits
 * such a connection, so this measure runs with allow-all. Closing (untimed) calls
 * the close, done, log and delete exports the same way.
 */
export async function setupCostExports(v: Variant, lives: number[]): Promise<number[]> {
  const hosts = await hostsHolding(v, lives);
  const samples: number[][] = lives.map(() => []);
  let id = 50_000_000; // far above the emulator's own ids
  const k = Math.min(...lives.map((l) => v.batch(l)));
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b++) {
    gc();
    const ids: number[][] = hosts.map(() => []);
    const timed = b >= WARMUP_BATCHES;
    for (let i = 0; i < k; i++) {
      for (let h = 0; h < hosts.length; h++) {
        const host = hosts[h]!;
        const x = host.exports;
        const root = host.root.id;
        const c = id++;
        ids[h]!.push(c);
        const t0 = now();
        host.callIn(c, "setup", () => {
          x.proxy_on_context_create(c, root);
          if (x.proxy_on_new_connection(c) !== 0) throw new Error(`${v.name}: an exports-only connection was denied`);
        });
        const t1 = now();
        if (timed) samples[h]!.push(Number(t1 - t0));
      }
    }
    for (let h = 0; h < hosts.length; h++) {
      const host = hosts[h]!;
      const x = host.exports;
      for (const c of ids[h]!) {
        host.callIn(c, "close", () => {
          x.proxy_on_downstream_connection_close(c, 2);
          x.proxy_on_done(c);
          x.proxy_on_log(c);
          x.proxy_on_delete(c);
        });
      }
      host.clearLogs();
    }
  }
  return samples.map(median);
}

/** (b) Wasm memory per live connection: growth from 0 to `live` open connections (each past its first message), divided by `live`. */
export async function memoryPerConnection(v: Variant, live: number, prime: Uint8Array | null): Promise<number> {
  const host = await FilterHost.start({ config: v.config, wasmPath: v.wasm, logLevel: "info" });
  // One open/close round first, so that one-time allocations (the registry, scratch buffers) are not counted.
  for (const c of fill(host, v, 50, prime)) c.closeFromClient();
  host.advance(1000);
  const before = host.memoryBytes();
  fill(host, v, live, prime);
  return (host.memoryBytes() - before) / live;
}

interface CallbackCost {
  emulator: number;
  exportOnly: number;
  /** Host calls the filter makes per callback. */
  hostCalls: number;
}

/**
 * (c) Median cost of one proxy_on_downstream_data callback carrying one whole message,
 * on 100 live connections past their first message, for each configuration. Two
 * measures: through the emulator (Connection.fromClient: its buffer bookkeeping
 * included) and the export alone (the host buffer set once, proxy_on_downstream_data
 * called directly). Each round times 100 callbacks on every configuration in turn; the
 * figure is the median over all rounds (per callback).
 */
export async function callbackCosts(configs: string[], msg: Uint8Array): Promise<CallbackCost[]> {
  const rounds = 40;
  const setups = [];
  for (const config of configs) {
    const v: Variant = { name: "callback", wasm: RELEASE_WASM, config, facts, batch: () => 0 };
    const host = await FilterHost.start({ config, logLevel: "info" });
    const conns = fill(host, v, 100, msg);
    setups.push({ host, conns, through: [] as number[], direct: [] as number[], calls: 0 });
  }
  const callsOf = (h: FilterHost): number => [...h.hostCalls.values()].reduce((a, b) => a + b, 0);
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b++) {
    gc();
    const calls0 = setups.map((s) => callsOf(s.host));
    const timed = b >= WARMUP_BATCHES;
    // Each round runs 100 callbacks on every configuration in turn: load drift touches all alike.
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < setups.length; j++) {
        const { host, conns } = setups[j]!;
        const t0 = now();
        for (const c of conns) c.fromClient(msg);
        const t1 = now();
        host.setBuffer(2, msg);
        const t2 = now();
        for (const c of conns) host.callIn(c.id, "proxy_on_downstream_data", () => host.exports.proxy_on_downstream_data(c.id, msg.length, 0));
        const t3 = now();
        host.setBuffer(2, null);
        if (timed) {
          setups[j]!.through.push(Number(t1 - t0) / conns.length);
          setups[j]!.direct.push(Number(t3 - t2) / conns.length);
        }
      }
    }
    if (timed) setups.forEach((s, j) => { s.calls += callsOf(s.host) - calls0[j]!; });
  }
  return setups.map((s) => {
    for (const c of s.conns) {
      if (c.closed) throw new Error(`a connection was closed during the callback bench (${c.closeReason})`);
      if (c.statuses.some((x) => x !== 0)) throw new Error("a callback held bytes back (StopIteration)");
    }
    return { emulator: median(s.through), exportOnly: median(s.direct), hostCalls: s.calls / (BATCHES * rounds * s.conns.length * 2) };
  });
}

/** The emulator's price of one proxy_get_buffer_bytes host call (4 bytes, the host allocating through the module's malloc), from the SDK variant's bench_get_buffer_bytes. */
async function hostCallPrice(sdkWasm: string, msg: Uint8Array): Promise<number> {
  const host = await FilterHost.start({ config: ALLOW_ALL, wasmPath: sdkWasm, logLevel: "info" });
  const fn = (host.exports as unknown as Record<string, unknown>)["bench_get_buffer_bytes"];
  if (typeof fn !== "function") throw new Error("the SDK variant lacks bench_get_buffer_bytes");
  const read = fn as (n: number, len: number) => number;
  const n = 2000;
  const samples: number[] = [];
  host.setBuffer(2, msg);
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b++) {
    const t0 = now();
    const got = read(n, 4);
    const t1 = now();
    if (got !== n * 4) throw new Error(`bench_get_buffer_bytes read ${got} bytes, expected ${n * 4}`);
    if (b >= WARMUP_BATCHES) samples.push(Number(t1 - t0) / n);
  }
  host.setBuffer(2, null);
  return median(samples);
}

interface LifeCost {
  /** Median ns of proxy_on_new_connection (via host.connect) and of the whole life. */
  setup: number;
  life: number;
  /** Host calls per connection over its whole life. */
  hostCalls: number;
}

/**
 * (f) A connection's whole life, as bench/dataplane's `conn` workload drives it: connect, one
 * message each way, close. The variants run in turn, one connection each, on hosts already
 * holding `live` connections, so a module and its baseline see the same load.
 */
export async function lifeCosts(vs: Variant[], live: number, msg: Uint8Array): Promise<LifeCost[]> {
  const hosts: FilterHost[] = [];
  for (const v of vs) {
    const host = await FilterHost.start({ config: v.config, wasmPath: v.wasm, logLevel: "info" });
    fill(host, v, live, null);
    hosts.push(host);
  }
  const callsOf = (h: FilterHost): number => [...h.hostCalls.values()].reduce((a, b) => a + b, 0);
  const setup: number[][] = vs.map(() => []);
  const life: number[][] = vs.map(() => []);
  const calls = vs.map(() => 0);
  const next = vs.map(() => live);
  const k = 300;
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b++) {
    gc();
    const timed = b >= WARMUP_BATCHES;
    const calls0 = hosts.map(callsOf);
    for (let i = 0; i < k; i++) {
      for (let h = 0; h < hosts.length; h++) {
        const t0 = now();
        const c = hosts[h]!.connect(vs[h]!.facts(next[h]!++));
        const t1 = now();
        const up = c.fromClient(msg);
        const down = c.fromServer(msg);
        c.closeFromClient();
        const t2 = now();
        if (up !== 0 || down !== 0) throw new Error(`${vs[h]!.name}: a bench connection was stopped (${c.closeReason ?? "held"})`);
        if (timed) {
          setup[h]!.push(Number(t1 - t0));
          life[h]!.push(Number(t2 - t0));
        }
      }
    }
    for (let h = 0; h < hosts.length; h++) {
      calls[h] = (callsOf(hosts[h]!) - calls0[h]!) / k;
      hosts[h]!.clearLogs();
    }
  }
  return vs.map((_, h) => ({ setup: median(setup[h]!), life: median(life[h]!), hostCalls: calls[h]! }));
}

/** ALL_FACTORS with its lines starting with `prefix` replaced (or removed when `by` is null). */
function without(prefix: string, by: string | null = null): string {
  return ALL_FACTORS.split("\n").flatMap((l) => (l.startsWith(prefix) ? (by === null ? [] : [by]) : [l])).join("\n");
}

/**
 * (e) Per-source records at fleet scale: `sources` devices, each from its own address, connect
 * once under a perSource rule with maxSources `fleet` (null: the default); then as many more new
 * ones (the fleet turning over). Envoy's shared data holds the records, so its size is the figure.
 */
async function fleetScale(fleet: number | null, sources: number): Promise<string[][]> {
  const perSource = `perSource 3600 - 1000 -${fleet === null ? "" : ` ${fleet}`}`;
  const host = await FilterHost.start({ config: ["picoseg 1", "segment plant/fleet enforce", "rule sensors", perSource, "end", ""].join("\n"), logLevel: "info" });
  const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:40000`;
  const rows: string[][] = [];
  const memory0 = host.memoryBytes();
  for (const round of [0, 1]) {
    const t0 = now();
    for (let i = 0; i < sources; i++) host.connect({ source: addr(round * sources + i) }).closeFromClient();
    const ns = Number(now() - t0) / sources;
    let records = 0;
    let bytes = 0;
    for (const [k, v] of host.sharedData()) {
      if (!k.startsWith("picoseg/ps/")) continue;
      records++;
      bytes += k.length + v.length;
    }
    rows.push([
      `maxSources ${fleet === null ? "default (65,536)" : fleet.toLocaleString("en")}, ${((round + 1) * sources).toLocaleString("en")} sources seen`,
      records.toLocaleString("en"), `${(bytes / 1048576).toFixed(1)} MiB`, `${(bytes / records).toFixed(0)} B`,
      host.counter("picoseg.persource.evicted").toLocaleString("en"), fmtNs(ns), `${((host.memoryBytes() - memory0) / 1048576).toFixed(1)} MiB`,
    ]);
  }
  return rows;
}

async function main(): Promise<void> {
  const log = (s: string): void => console.log(s);
  const fleet = async (): Promise<void> => {
    log("(e) per-source records at fleet scale: 100,000 devices connect once each, then 100,000 new ones");
    const rows = [...await fleetScale(100_000, 100_000), ...await fleetScale(null, 100_000)];
    log(table(["", "records", "shared data (keys + values)", "per record", "evicted", "per connection", "Wasm memory growth"], rows));
  };
  if (args.has("--fleet")) return fleet(); // this section alone
  const wasmBytes = readFileSync(RELEASE_WASM);
  const sha = createHash("sha256").update(wasmBytes).digest("hex").slice(0, 12);
  log(`picoseg filter bench — ${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  log(`module ${RELEASE_WASM.replace(process.cwd() + "/", "")} (${wasmBytes.length} bytes, sha256 ${sha}…); ${BATCHES} timed batches after ${WARMUP_BATCHES} warm-up batches, medians of per-sample times; times include the emulator's own work`);
  log("");

  const msg = pgMessage(100);
  const allowAll: Variant = { name: "picoseg, allow-all", wasm: RELEASE_WASM, config: ALLOW_ALL, facts, batch: () => 300 };
  const allFactors: Variant = { name: "picoseg, all factors", wasm: RELEASE_WASM, config: ALL_FACTORS, facts, batch: () => 300 };
  const variants: Variant[] = [allowAll, allFactors];
  if (!args.has("--no-sdk")) {
    try {
      const wasm = sdkVariantWasm(log);
      variants.push({ name: "SDK as published (d)", wasm, config: ALLOW_ALL, facts, batch: () => 50 });
    } catch (e) {
      log(`(d) skipped: the SDK variant did not compile: ${(e as Error).message.split("\n")[0]}`);
    }
  }

  // A throwaway run first: V8 compiles the emulator's and the module's hot paths.
  await setupCost(allowAll, [10, 100]);
  await callbackCosts([ALLOW_ALL, ALL_FACTORS], msg);

  // (a) setup cost
  const LIVE = [10, 1_000, 10_000];
  const setup = new Map<string, SetupCost>();
  for (const v of variants) setup.set(v.name, await setupCost(v, LIVE));
  log("(a) cost of a new connection (proxy_on_context_create + proxy_on_new_connection via host.connect)");
  log(table(
    ["", "10 live", "1,000 live", "10,000 live", "10,000 / 10 (aim < 1.2)", "host calls / conn.", "log bytes / conn."],
    variants.map((v) => {
      const r = setup.get(v.name)!;
      return [v.name, fmtNs(r.ns[0]!), fmtNs(r.ns[1]!), fmtNs(r.ns[2]!), fmtRatio(r.ns[2]! / r.ns[0]!), r.hostCalls.toFixed(1), r.logBytes.toFixed(0)];
    }),
  ));
  const exportRows: string[][] = [];
  const exportCosts = new Map<string, number[]>();
  for (const v of variants.filter((x) => x.config === ALLOW_ALL)) {
    const r = await setupCostExports(v, LIVE);
    exportCosts.set(v.name, r);
    exportRows.push([`${v.name}, exports alone`, fmtNs(r[0]!), fmtNs(r[1]!), fmtNs(r[2]!), fmtRatio(r[2]! / r[0]!), "", ""]);
  }
  log(table(["", "10 live", "1,000 live", "10,000 live", "10,000 / 10 (aim < 1.2)", "", ""], exportRows));
  const sdkExports = exportCosts.get("SDK as published (d)");
  const ownExports = exportCosts.get(allowAll.name);
  if (sdkExports && ownExports) {
    log(`(d) exports alone, SDK as published / picoseg allow-all: ${LIVE.map((l, i) => `${fmtRatio(sdkExports[i]! / ownExports[i]!)} at ${l.toLocaleString("en")} live`).join(", ")}`);
  }
  const sdkRow = setup.get("SDK as published (d)");
  if (sdkRow) {
    const base = setup.get(allowAll.name)!;
    log(`(d) via host.connect, SDK as published / picoseg allow-all: ${LIVE.map((l, i) => `${fmtRatio(sdkRow.ns[i]! / base.ns[i]!)} at ${l.toLocaleString("en")} live`).join(", ")}`);
    log("    (the SDK builds and logs the list of every live context id on each new connection; the emulator also decodes each log line, Envoy would drop it by level)");
  }
  log("");

  // (b) memory per live connection
  log("(b) Wasm memory per live connection at 10,000 live (growth from an empty filter, after each connection's first message)");
  const memRows: string[][] = [];
  for (const v of variants) {
    const prime = v.name.startsWith("SDK") ? null : msg;
    const per = await memoryPerConnection(v, 10_000, prime);
    memRows.push([v.name, `${per.toFixed(0)} B`, per <= 512 ? "yes" : "no"]);
  }
  log(table(["", "bytes / connection", "≤ 512 (aim)"], memRows));
  log("");

  // (c) callback cost
  log(`(c) cost of one data callback (proxy_on_downstream_data, one ${msg.length}-byte message per read, 100 live connections)`);
  const cases: [string, string][] = [
    ["allow-all (baseline)", ALLOW_ALL],
    ["all factors", ALL_FACTORS],
    ["all factors, perSource without maxBytes", without("perSource", "perSource 3600 - 100000000 4")],
    ["all factors, framing chunk", without("framing", "framing chunk")],
    ["all factors, no maxMessageBytes/framing", without("framing").split("\n").filter((l) => !l.startsWith("maxMessageBytes")).join("\n")],
  ];
  const results = await callbackCosts(cases.map(([, cfg]) => cfg), msg);
  const base = results[0]!;
  const sdk = variants.find((v) => v.name.startsWith("SDK"));
  const price = sdk ? await hostCallPrice(sdk.wasm, msg) : null;
  log(table(
    ["", "via emulator", "ratio", "export alone", "ratio (aim < 2)", "host calls / callback"],
    cases.map(([name], i) => {
      const r = results[i]!;
      return [name, fmtNs(r.emulator), fmtRatio(r.emulator / base.emulator), fmtNs(r.exportOnly), fmtRatio(r.exportOnly / base.exportOnly), r.hostCalls.toFixed(1)];
    }),
  ));
  if (price !== null) {
    const extra = results[1]!.exportOnly - base.exportOnly;
    log(`    one proxy_get_buffer_bytes host call costs ${fmtNs(price)} in this emulator (measured from Wasm, SDK variant's bench_get_buffer_bytes);`);
    log(`    all factors cost ${fmtNs(extra)} more than allow-all per callback (export alone) = ${(extra / price).toFixed(2)} of that host call`);
  }
  log("");

  // (f) whole life, with the --baseline module's rows next to this build's
  const lifeVariants: Variant[] = [allowAll, allFactors];
  if (BASELINE_WASM !== null) {
    const baseBytes = readFileSync(BASELINE_WASM);
    log(`baseline module ${BASELINE_WASM} (${baseBytes.length} bytes, sha256 ${createHash("sha256").update(baseBytes).digest("hex").slice(0, 12)}…)`);
    lifeVariants.push({ ...allowAll, name: "baseline module, allow-all", wasm: BASELINE_WASM });
    lifeVariants.push({ ...allFactors, name: "baseline module, all factors", wasm: BASELINE_WASM });
  }
  log(`(f) a connection's whole life (connect, one ${msg.length}-byte message each way, close) at 1,000 live, variants interleaved`);
  const lives = await lifeCosts(lifeVariants, 1_000, msg);
  const lifeBase = (name: string): LifeCost | undefined => {
    const i = lifeVariants.findIndex((v) => v.name === name);
    return i >= 0 ? lives[i] : undefined;
  };
  log(table(
    ["", "new connection", "whole life", "host calls / life", "whole life / baseline module's"],
    lifeVariants.map((v, i) => {
      const r = lives[i]!;
      const b = v.wasm === BASELINE_WASM ? undefined : lifeBase(`baseline module, ${v.config === ALL_FACTORS ? "all factors" : "allow-all"}`);
      return [v.name, fmtNs(r.setup), fmtNs(r.life), r.hostCalls.toFixed(1), b ? fmtRatio(r.life / b.life) : ""];
    }),
  ));
  log("");
  await fleet();
}

// Run when executed (npm run bench), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
