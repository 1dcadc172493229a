// Data-plane benchmark: picoseg in a real Envoy against plain tcp_proxy and Envoy's native filters.
//
//   npm run bench:dataplane [-- --rounds 5 --seconds 2 --idle 10000 --only A,B,C]
//   npm run bench:dataplane -- --quick        # one short round: a smoke run, not figures
//
// Six Envoys (`--concurrency 1`, one per configuration in configs.ts) in front of one Go upstream,
// driven by the Go load generator (loadgen/, built into .cache/bench/). Workloads run in rounds;
// inside a round every configuration runs each workload in turn (the order rotates by round), so
// a load spike on the shared machine touches all of them. The load-independent figures are
// Envoy's CPU seconds (/proc/<pid>/stat, that Envoy process alone) per GB, per 1,000 messages
// and per 1,000 new connections; ratios against (A) are taken per round and printed as the
// median with the spread (min–max) over rounds. Nothing is asserted; goals print met or MISSED.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { createServer } from "node:net";
import { envoyBinaryPath, fetchStats } from "../../xds-server/src/bootstrap/index.js";
import { generateMtls } from "../../xds-server/src/demo/pki.js";
import { sleep } from "../../xds-server/src/util/wait.js";
import { bootstrapFor, CLIENT_PRINCIPAL, CONFIGS, type BenchConfig, type ConfigName } from "./configs.js";
import {
  benchTempDir, buildLoadgen, EnvoyProc, holdIdle, measure, rssBytes, Upstream, type Measured, type RunSpec, type TlsClientFiles,
} from "./procs.js";

// ---- options ----

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
function numArg(name: string, dflt: number, max: number): number {
  const raw = argValue(name);
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isFinite(v) || v <= 0 || v > max) throw new Error(`--${name}: a number in (0, ${max}]`);
  return v;
}
const QUICK = process.argv.includes("--quick");
const ROUNDS = Math.round(numArg("rounds", QUICK ? 1 : 5, 50));
const SECONDS = numArg("seconds", QUICK ? 0.5 : 2, 30);
const IDLE_WANTED = Math.round(numArg("idle", QUICK ? 1000 : 10_000, 100_000));
const ONLY = argValue("only")?.split(",");
// --only C,D runs those configurations and their baselines.
const wanted = new Set(ONLY ? CONFIGS.filter((c) => ONLY.includes(c.name)).flatMap((c) => [c.name, c.baseline]) : CONFIGS.map((c) => c.name));
const selected = CONFIGS.filter((c) => wanted.has(c.name));

// ---- workloads and their unit of work ----

interface Workload {
  key: string;
  title: string;
  spec: (port: number, tls: TlsClientFiles | undefined) => RunSpec;
  /** Work done in a run, in the unit Envoy's CPU is divided by. */
  work: (m: Measured) => number;
  unit: string;
  /** Envoy CPU per unit, printed in this scale (e.g. ms per 1,000 messages). */
  cpuScale: number;
  cpuUnit: string;
  goalVsA: number;
}

const rr = (conns: number): Workload => ({
  key: `rr${conns}`,
  title: `64 B request/response, ${conns} conn.`,
  spec: (port, tls) => ({ mode: "rr", target: port, conns, seconds: SECONDS, ...(tls ? { tls } : {}) }),
  work: (m) => m.load.ops,
  unit: "exchanges",
  cpuScale: 1000 * 1000,
  cpuUnit: "ms / 1,000 exchanges",
  goalVsA: 1.1,
});

const WORKLOADS: Workload[] = [
  {
    key: "up", title: "bulk client → server, 1 conn.",
    spec: (port, tls) => ({ mode: "bulk-up", target: port, conns: 1, seconds: SECONDS, ...(tls ? { tls } : {}) }),
    work: (m) => m.load.bytes, unit: "bytes", cpuScale: 1e9, cpuUnit: "s / GB", goalVsA: 1.1,
  },
  {
    key: "down", title: "bulk server → client, 1 conn.",
    spec: (port, tls) => ({ mode: "bulk-down", target: port, conns: 1, seconds: SECONDS, ...(tls ? { tls } : {}) }),
    work: (m) => m.load.bytes, unit: "bytes", cpuScale: 1e9, cpuUnit: "s / GB", goalVsA: 1.1,
  },
  rr(1),
  rr(16),
  rr(64),
  {
    key: "conn", title: "new connections (16 workers: connect, 64 B echo, close)",
    spec: (port, tls) => ({ mode: "connect", target: port, conns: 16, seconds: SECONDS, ...(tls ? { tls } : {}) }),
    work: (m) => m.load.ops, unit: "connections", cpuScale: 1000 * 1000, cpuUnit: "ms / 1,000 conn.", goalVsA: 1.25,
  },
];

// --workloads up,rr1 runs a subset (keys as above), e.g. to profile one workload.
const ONLY_WORKLOADS = argValue("workloads")?.split(",");
const workloads = WORKLOADS.filter((w) => !ONLY_WORKLOADS || ONLY_WORKLOADS.includes(w.key));

// ---- statistics and printing ----

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : "—");
const ratioText = (xs: number[]): string =>
  `${fmt(median(xs))}x [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}]`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = a && typeof a === "object" ? a.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

/** The soft RLIMIT_NOFILE this process (and so every Envoy it starts) runs with. */
function openFileLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return m?.[1] ? Number(m[1]) : 1024;
}

const loadText = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");

// ---- the run ----

interface Sample {
  round: number;
  config: ConfigName;
  workload: string;
  m: Measured;
}

async function main(): Promise<void> {
  const started = new Date();
  const loadAtStart = loadText();
  const loadgen = buildLoadgen();
  const envoyVersion = execFileSync(envoyBinaryPath(), ["--version"], { encoding: "utf8" }).trim().split("\n").pop() ?? "";
  const goVersion = execFileSync("go", ["version"], { encoding: "utf8", env: { ...process.env, GOTOOLCHAIN: "local" } }).trim();
  // Envoy holds two descriptors per proxied connection (downstream + upstream) plus its own few.
  const nofile = openFileLimit();
  const idle = Math.min(IDLE_WANTED, Math.floor((nofile - 256) / 2));

  console.log(`picoseg data-plane bench — ${started.toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, load ${loadAtStart}`);
  console.log(`Envoy ${envoyVersion}; ${goVersion}; ${ROUNDS} round(s) × ${SECONDS} s per workload and configuration`);

  const certs = generateMtls([CLIENT_PRINCIPAL], { dir: benchTempDir("picoseg-bench-certs-") });
  const clientCert = certs.clients.get(CLIENT_PRINCIPAL)!;
  const clientTls: TlsClientFiles = { certFile: clientCert.certFile, keyFile: clientCert.keyFile, caFile: certs.caFile };

  const upstream = await Upstream.start(loadgen);
  const envoys = new Map<ConfigName, { envoy: EnvoyProc; port: number; cfg: BenchConfig }>();
  try {
    for (const cfg of selected) {
      const port = await freePort();
      const envoy = await EnvoyProc.start(cfg.name, bootstrapFor(cfg, port, upstream.port, certs.listenerTls), port);
      envoys.set(cfg.name, { envoy, port, cfg });
    }
    console.log(`configurations (each its own Envoy, --concurrency 1):`);
    for (const c of selected) console.log(`  (${c.name}) ${c.title}`);
    console.log("");

    // ---- rounds ----
    const samples: Sample[] = [];
    const order = [...envoys.values()];
    for (let round = 1; round <= ROUNDS; round++) {
      const rotated = [...order.slice((round - 1) % order.length), ...order.slice(0, (round - 1) % order.length)];
      for (const w of workloads) {
        for (const { envoy, port, cfg } of rotated) {
          const m = await measure(loadgen, w.spec(port, cfg.tls ? clientTls : undefined), envoy, upstream);
          if (m.load.errors > 0) console.log(`  ! round ${round} ${cfg.name} ${w.key}: ${m.load.errors} errors (${m.load.firstError ?? ""})`);
          samples.push({ round, config: cfg.name, workload: w.key, m });
        }
      }
      console.log(`round ${round}/${ROUNDS} done (load ${loadText()})`);
    }

    // ---- memory per idle connection ----
    const idleBytes = new Map<ConfigName, number>();
    for (const { envoy, port, cfg } of order) {
      const before = rssBytes(envoy.pid);
      const close = await holdIdle(loadgen, port, idle, cfg.tls ? clientTls : undefined);
      await sleep(1000);
      const stats = await fetchStats(envoy.adminUrl, "downstream_cx_active$");
      const active = [...stats.entries()].find(([k]) => k.startsWith("listener.127.0.0.1_"))?.[1] ?? 0;
      const after = rssBytes(envoy.pid);
      await close();
      if (active < idle) console.log(`  ! ${cfg.name}: only ${active} of ${idle} idle connections active in Envoy`);
      idleBytes.set(cfg.name, (after - before) / idle);
    }

    // ---- picoseg must have admitted everything: a limit reached would make the figures meaningless ----
    for (const { envoy, cfg } of order) {
      const denied = [...(await fetchStats(envoy.adminUrl, "picoseg\\.denied\\.")).entries()].filter(([, v]) => v > 0);
      if (denied.length > 0) console.log(`  ! (${cfg.name}) picoseg denied connections: ${denied.map(([k, v]) => `${k}=${v}`).join(", ")}`);
    }

    report(samples, idleBytes, idle, nofile);
    console.log(`\nload average at start ${loadAtStart}, at end ${loadText()}; ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s`);
  } finally {
    for (const { envoy } of envoys.values()) await envoy.stop();
    await upstream.stop();
    certs.cleanup();
  }
}

function report(samples: Sample[], idleBytes: Map<ConfigName, number>, idle: number, nofile: number): void {
  const get = (config: ConfigName, workload: string): Sample[] => samples.filter((s) => s.config === config && s.workload === workload);
  const cpuPerUnit = (w: Workload, m: Measured): number => (m.envoyCpu / Math.max(1, w.work(m))) * w.cpuScale;
  const names = selected.map((c) => c.name);

  // Figures: medians over rounds.
  console.log("\nEnvoy CPU per unit of work (median over rounds; Envoy process alone, /proc/<pid>/stat)");
  console.log(table(["workload", ...names.map((n) => `(${n})`)], workloads.map((w) => [
    `${w.title} [${w.cpuUnit}]`,
    ...names.map((n) => fmt(median(get(n, w.key).map((s) => cpuPerUnit(w, s.m))), 3)),
  ])));

  console.log("\nThroughput and latency (median over rounds)");
  const rate = (w: Workload, s: Sample): string =>
    w.unit === "bytes" ? `${fmt(s.m.load.bytes / s.m.load.seconds / 1e6, 0)} MB/s` : `${fmt(s.m.load.ops / s.m.load.seconds, 0)}/s`;
  console.log(table(["workload", ...names.map((n) => `(${n})`)], workloads.flatMap((w) => {
    const rows = [[w.title, ...names.map((n) => {
      const ss = get(n, w.key);
      const mid = [...ss].sort((a, b) => (w.work(a.m) / a.m.load.seconds) - (w.work(b.m) / b.m.load.seconds))[Math.floor(ss.length / 2)];
      return mid ? rate(w, mid) : "—";
    })]];
    if (w.unit !== "bytes") {
      rows.push(["  p50 / p99 (µs)", ...names.map((n) => {
        const ss = get(n, w.key);
        return `${fmt(median(ss.map((s) => s.m.load.p50us)), 0)} / ${fmt(median(ss.map((s) => s.m.load.p99us)), 0)}`;
      })]);
    }
    return rows;
  })));

  // Ratios per round, against each configuration's baseline and, for (C), against (D).
  const ratios = (num: ConfigName, den: ConfigName, w: Workload, f: (w: Workload, m: Measured) => number): number[] => {
    const out: number[] = [];
    for (const s of get(num, w.key)) {
      const b = get(den, w.key).find((x) => x.round === s.round);
      if (b) out.push(f(w, s.m) / f(w, b.m));
    }
    return out;
  };
  const pairs: Array<[ConfigName, ConfigName]> = [];
  for (const c of selected) if (c.name !== c.baseline && names.includes(c.baseline)) pairs.push([c.name, c.baseline]);
  if (names.includes("C") && names.includes("D")) pairs.push(["C", "D"]);
  if (names.includes("E") && names.includes("D")) pairs.push(["E", "D"]);

  console.log("\nRatios of Envoy CPU per unit of work: median [min–max over rounds]");
  console.log(table(["workload", ...pairs.map(([a, b]) => `${a} / ${b}`)], workloads.map((w) => [
    w.title, ...pairs.map(([a, b]) => ratioText(ratios(a, b, w, cpuPerUnit))),
  ])));
  const perSecond = (w: Workload, m: Measured): number => w.work(m) / m.load.seconds;
  console.log("\nRatios of throughput (bytes/s, exchanges/s, connections/s): median [min–max over rounds]");
  console.log(table(["workload", ...pairs.map(([a, b]) => `${a} / ${b}`)], workloads.map((w) => [
    w.title, ...pairs.map(([a, b]) => ratioText(ratios(a, b, w, perSecond))),
  ])));

  // Who was busy: Envoy's share of a core, the generator's (client + upstream).
  console.log("\nCPU shares during the windows (of one core; medians; the generator is the Go client plus the Go upstream)");
  let saturated = 0;
  console.log(table(["workload", ...names.map((n) => `(${n}) Envoy / gen.`)], workloads.map((w) => [
    w.title, ...names.map((n) => {
      const ss = get(n, w.key);
      for (const s of ss) {
        const gen = (s.m.load.cpuSec + s.m.upstreamCpu) / s.m.wall;
        if (gen >= 0.9 && s.m.envoyCpu / s.m.wall < 0.9) saturated++;
      }
      return `${fmt(median(ss.map((s) => s.m.envoyCpu / s.m.wall)))} / ${fmt(median(ss.map((s) => (s.m.load.cpuSec + s.m.upstreamCpu) / s.m.wall)))}`;
    }),
  ])));
  if (saturated > 0) {
    console.log(`WARNING: in ${saturated} run(s) the generator used ≥ 0.9 of a core while Envoy used less: there the generator, not Envoy, set the pace (throughput and latency figures are the generator's; CPU per unit of work still holds)`);
  } else {
    console.log("the generator was never the saturated side (it never used ≥ 0.9 core while Envoy used less)");
  }

  console.log(`\nEnvoy RSS per idle connection (${idle.toLocaleString("en-US")} idle connections, each past one 64 B exchange${idle < IDLE_WANTED ? `; ${IDLE_WANTED.toLocaleString("en-US")} asked, RLIMIT_NOFILE ${nofile} allows Envoy two descriptors for each of ${idle}` : ""})`);
  const baselineOf = (n: ConfigName): ConfigName => CONFIGS.find((c) => c.name === n)?.baseline ?? n;
  console.log(table(["", ...names.map((n) => `(${n})`)], [
    ["bytes / connection", ...names.map((n) => fmt(idleBytes.get(n) ?? NaN, 0))],
    ["minus its baseline's", ...names.map((n) => fmt((idleBytes.get(n) ?? NaN) - (idleBytes.get(baselineOf(n)) ?? NaN), 0))],
  ]));

  // Goals: printed, never asserted.
  console.log("\nGoals");
  const goal = (what: string, value: number, limit: number, unit = "x"): void => {
    const met = value <= limit;
    console.log(`  ${met ? "met   " : "MISSED"} ${what}: ${fmt(value)}${unit} (goal ≤ ${fmt(limit)}${unit})`);
  };
  for (const [num, den] of [["C", "A"], ["C-TLS", "A-TLS"]] as Array<[ConfigName, ConfigName]>) {
    if (!names.includes(num) || !names.includes(den)) continue;
    for (const w of workloads) goal(`(${num}) / (${den}) Envoy CPU, ${w.title}`, median(ratios(num, den, w, cpuPerUnit)), w.goalVsA);
    const extra = (idleBytes.get(num) ?? NaN) - (idleBytes.get(den) ?? NaN);
    goal(`(${num}) − (${den}) memory per idle connection`, extra, 1024, " B");
  }
  // "On what both do": (C) against (D) on every workload, and (E), picoseg limited to (D)'s job.
  for (const num of ["C", "E"] as const) {
    if (!names.includes(num) || !names.includes("D")) continue;
    for (const w of workloads) goal(`(${num}) / (D) Envoy CPU, ${w.title}`, median(ratios(num, "D", w, cpuPerUnit)), 1.05);
  }
}

await main();
