// picoseg's xDS server next to go-control-plane: the same N simulated delta-ECDS clients
// (h2-client.ts, one HTTP/2 connection each), the same resources, the same change.
//
//   npm run bench:xds:gcp [-- --clients 1000 --rounds 3 --workloads 20 --debounce 150] [--picoseg-only]
//
// The resources: for each round and workload, this script compiles the benchmark's policies
// (policies.ts) with the project's compiler and marshals them with the server's own
// buildFilterResource, then writes the bytes to a file that the Go server (gcp/main.go, built into
// .cache/bench/) loads; it checks that go-control-plane re-marshals them to the very same bytes.
// picoseg's server (server-process.ts) compiles the same policies itself from a watched directory.
//
// A round: picoseg's side is changed by rewriting the shared segment's file (the server's watch,
// debounce, compile and push all count); go-control-plane's by a `round R` command that sets the
// new snapshots after the same debounce (it has nothing to compile). Measured from that trigger:
// each client's time to hold the new version (median, p99), and every server's CPU time
// (/proc/<pid>/stat) and RSS (/proc/<pid>/status, after a full GC in the server) for the server
// process alone. The two servers run one after the other, picoseg first, with the same client
// process.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface, type Interface } from "node:readline";
import { filterWasmPath, repoRoot } from "../../xds-server/src/util/index.js";
import { compileForWorkload, validatePolicyText } from "../../xds-server/src/policy/index.js";
import { formatPolicyError } from "../../api/status.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { buildFilterResource } from "../../xds-server/src/push/resources.js";
import { connectH2Client, type H2Client } from "../../testkit/xds/h2-client.js";
import { appSegment, clientLabels, sharedSegment } from "./policies.js";
import { forkBenchServer } from "./server-client.js";

function arg(name: string, dflt: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0 || v > max) throw new Error(`--${name}: a number from 0 to ${max}`);
  return v;
}
const N = arg("clients", 1000, 15_000);
const WORKLOADS = arg("workloads", 20, 1000);
const ROUNDS = arg("rounds", 3, 20);
const DEBOUNCE = arg("debounce", 150, 5000);
/** Clients of the unmeasured warm-up run (few enough to leave ephemeral ports for 2 × 10,000 more). */
const WARMUP_CLIENTS = 1000;
/** Every wait for clients is bounded by this. */
const WAIT_MS = 180_000;

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill("SIGKILL");
    process.exit(130);
  });
}

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN) * 1024;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, intervalMs = 2): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** One xDS server under test, as the rounds see it. */
interface Side {
  name: string;
  pid: number;
  xdsAddress: string;
  /** Starts round r's change; the clock for that round starts when this is called. */
  change(round: number): Promise<void>;
  acks(): Promise<number>;
  /** A full GC in the server, so RSS is live memory plus the runtime's own. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

async function picosegSide(dir: string): Promise<Side> {
  const server = await forkBenchServer(dir, DEBOUNCE);
  const { child } = server;
  children.add(child);
  return {
    name: "picoseg",
    pid: child.pid!,
    xdsAddress: server.xdsAddress,
    change: (round) => writeFile(path.join(dir, "shared.yaml"), sharedSegment(round)),
    acks: async () => (await server.sample("sample")).acks,
    gc: async () => void (await server.sample("memory")),
    stop: async () => {
      // Let it exit by itself first (a CPU profile is written at exit, not on SIGTERM).
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.send("stop");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      await stopProcess(child, 5000);
    },
  };
}

function buildGcp(): string {
  const root = repoRoot();
  const out = path.join(root, ".cache", "bench", "gcp");
  mkdirSync(path.dirname(out), { recursive: true });
  // The module's go.mod/go.sum pin go-control-plane; GOTOOLCHAIN=local uses the installed Go.
  execFileSync("go", ["build", "-o", out, "."], {
    cwd: path.join(root, "bench", "xds", "gcp"),
    env: { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return out;
}

async function gcpSide(binary: string, resources: string): Promise<Side> {
  const child = spawn(binary, ["-resources", resources, "-debounce", `${DEBOUNCE}ms`], { stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  const lines: Interface = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  lines.on("line", (l) => {
    queue.push(l);
    wake?.();
  });
  const next = async (): Promise<Record<string, number | boolean>> => {
    await until("go-control-plane's server", () => queue.length > 0 || child.exitCode !== null, 1);
    const l = queue.shift();
    if (l === undefined) throw new Error("go-control-plane's server exited");
    return JSON.parse(l) as Record<string, number | boolean>;
  };
  const ask = (cmd: string): Promise<Record<string, number | boolean>> => {
    child.stdin!.write(`${cmd}\n`);
    return next();
  };
  const { port } = await next();
  return {
    name: "go-control-plane",
    pid: child.pid!,
    xdsAddress: `127.0.0.1:${String(port)}`,
    change: async (round) => void child.stdin!.write(`round ${round}\n`),
    acks: async () => Number((await ask("sample"))["acks"]),
    gc: async () => void (await ask("gc")),
    stop: async () => {
      child.stdin!.end();
      await stopProcess(child, 5000);
    },
  };
}

interface RoundResult {
  p50: number;
  p99: number;
  max: number;
  allAcked: number;
  cpuMs: number;
}
interface SideResult {
  name: string;
  connectMs: number;
  rssBefore: number;
  rssAfter: number;
  rounds: RoundResult[];
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** Clients and rounds of a side run: the measured ones, or the clients' warm-up. */
interface RunShape {
  clients: number;
  rounds: number;
  /** Print nothing: the warm-up's figures are not kept. */
  quiet?: boolean;
}

async function runSide(side: Side, shape: RunShape = { clients: N, rounds: ROUNDS }): Promise<SideResult> {
  const { clients: n, rounds: roundCount, quiet = false } = shape;
  const say = (line: string): void => void (quiet || console.log(line));
  await side.gc();
  const rssBefore = rss(side.pid);
  let received = 0;
  const onUpdate = (): void => void received++;
  let errors = 0;
  let firstError = "";
  const onError = (err: Error): void => {
    if (errors++ === 0) firstError = err.message;
  };
  const noErrors = (): void => {
    if (errors > 0) throw new Error(`${side.name}: ${errors} client error(s), first: ${firstError} (out of ephemeral ports? \`ss -s\`)`);
  };
  const clients: H2Client[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      clients.push(connectH2Client(side.xdsAddress, { id: `bench-${i}`, namespace: "bench", labels: clientLabels(i, WORKLOADS) }, onUpdate, onError));
      // At most ~1,000 connections in progress: on a busy machine a burst of 10,000 overflows the
      // server's accept queue (its connections are then reset), and N Envoys never connect at once.
      if (i % 200 === 199) await until(`${side.name}: initial config to ${i - 999} clients`, () => (noErrors(), received >= i - 999), 5);
    }
    await until(`${side.name}: initial config to ${n} clients`, () => (noErrors(), received >= n), 10);
    const connectMs = performance.now() - t0;
    await until(`${side.name}: ${n} initial ACKs`, async () => (await side.acks()) >= n, 10);
    say(`  ${side.name}: connect + initial config to all ${n}: ${connectMs.toFixed(0)} ms`);

    const rounds: RoundResult[] = [];
    for (let round = 1; round <= roundCount; round++) {
      const acks0 = await side.acks();
      const before = new Map(clients.map((c) => [c, c.version]));
      received = 0;
      const cpu0 = cpuSeconds(side.pid);
      const clientCpu0 = process.cpuUsage();
      const start = performance.now();
      await side.change(round);
      await until(`${side.name}: round ${round} to ${n} clients`, () => (noErrors(), received >= n));
      await until(`${side.name}: round ${round} ACKs`, async () => (await side.acks()) >= acks0 + n, 5);
      const allAcked = performance.now() - start;
      const cpuMs = (cpuSeconds(side.pid) - cpu0) * 1000;
      const clientUse = process.cpuUsage(clientCpu0);
      const clientCpuMs = (clientUse.user + clientUse.system) / 1000;
      if (clients.some((c) => c.version === before.get(c))) throw new Error(`${side.name}: a client kept its old version`);
      const lat = clients.map((c) => c.updatedAt - start);
      const r = { p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), allAcked, cpuMs };
      rounds.push(r);
      say(`  ${side.name} round ${round}: p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms, all ACKed ${allAcked.toFixed(0)} ms, server CPU ${cpuMs.toFixed(0)} ms, clients' CPU ${clientCpuMs.toFixed(0)} ms`);
    }
    // Memory once the rounds are done (clients still connected): a forced full GC between
    // connecting and round 1 made picoseg's next push ~1.5x as costly, which no real server sees.
    await side.gc();
    const rssAfter = rss(side.pid);
    say(`  ${side.name}: RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB before the clients, ${(rssAfter / 2 ** 20).toFixed(1)} MiB with them (after the rounds)`);
    return { name: side.name, connectMs, rssBefore, rssAfter, rounds };
  } finally {
    for (const c of clients) c.close();
    await side.stop();
  }
}

/** Writes, for go-control-plane, the resources picoseg's compiler and marshaler build. */
async function exportResources(file: string): Promise<void> {
  const apps = Array.from({ length: WORKLOADS }, (_, i) => appSegment(i)).join("---\n");
  const rounds: string[][] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const { segments, errors } = validatePolicyText(`${sharedSegment(round)}---\n${apps}`, "bench.yaml");
    if (errors.length > 0) throw new Error(errors.map(formatPolicyError).join("\n"));
    rounds.push(Array.from({ length: WORKLOADS }, (_, w) => {
      // A generation of the size picoseg's server writes (a millisecond timestamp).
      const config = compileForWorkload(segments, { namespace: "bench", labels: clientLabels(w, WORKLOADS), annotations: {} }, { generation: Date.now() + round }).config;
      return Buffer.from(buildFilterResource("picoseg", config, { kind: "local", filename: filterWasmPath() }).value).toString("base64");
    }));
  }
  const workloads = Array.from({ length: WORKLOADS }, (_, w) => clientLabels(w, WORKLOADS)["app"]!);
  await writeFile(file, JSON.stringify({ name: "picoseg", workloads, rounds }));
}

async function main(): Promise<void> {
  const gcpBinary = buildGcp();
  const dir = await mkdtemp(path.join(tmpdir(), "picoseg-bench-xds-"));
  try {
    const policies = path.join(dir, "policies");
    mkdirSync(policies);
    await writeFile(path.join(policies, "shared.yaml"), sharedSegment(0));
    await writeFile(path.join(policies, "apps.yaml"), Array.from({ length: WORKLOADS }, (_, i) => appSegment(i)).join("---\n"));
    const resources = path.join(dir, "resources.json");
    await exportResources(resources);

    console.log(`xDS side by side: ${N} delta-ECDS clients (hand-framed node:http2, one connection each), ${WORKLOADS} workloads, ${ROUNDS} rounds, debounce ${DEBOUNCE} ms on both sides`);
    // The clients run in this process, compiled by V8 as they run, like picoseg's server: measured
    // first and cold, they would add their own warm-up to picoseg's rounds alone (go-control-plane
    // came second, to warm clients). A short unmeasured run against go-control-plane (it starts in
    // milliseconds) warms them for both sides alike.
    const warmup = { clients: Math.min(N, WARMUP_CLIENTS), rounds: ROUNDS, quiet: true };
    await runSide(await gcpSide(gcpBinary, resources), warmup);
    console.log(`  (clients warmed up first: ${warmup.clients} of them, ${warmup.rounds} rounds against go-control-plane, not measured)`);
    const ours = await runSide(await picosegSide(policies));
    // --picoseg-only: profile or compare builds of picoseg's server alone.
    if (process.argv.includes("--picoseg-only")) return;
    const theirs = await runSide(await gcpSide(gcpBinary, resources));

    const kib = (s: SideResult): number => (s.rssAfter - s.rssBefore) / N / 1024;
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
    console.log(`\n${N} clients                      picoseg        go-control-plane   picoseg / gcp`);
    console.log(`connect + initial config    ${`${ours.connectMs.toFixed(0)} ms`.padStart(10)}  ${`${theirs.connectMs.toFixed(0)} ms`.padStart(18)}  ${ratio(ours.connectMs, theirs.connectMs).padStart(14)}`);
    console.log(`RSS per client              ${`${kib(ours).toFixed(1)} KiB`.padStart(10)}  ${`${kib(theirs).toFixed(1)} KiB`.padStart(18)}  ${ratio(kib(ours), kib(theirs)).padStart(14)}`);
    const goals: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const a = ours.rounds[r]!;
      const b = theirs.rounds[r]!;
      console.log(`round ${r + 1} p50 / p99           ${`${a.p50.toFixed(0)} / ${a.p99.toFixed(0)} ms`.padStart(14)}  ${`${b.p50.toFixed(0)} / ${b.p99.toFixed(0)} ms`.padStart(14)}  ${`${ratio(a.p50, b.p50)} / ${ratio(a.p99, b.p99)}`.padStart(14)}`);
      console.log(`round ${r + 1} server CPU / client ${`${((a.cpuMs * 1000) / N).toFixed(0)} µs`.padStart(10)}  ${`${((b.cpuMs * 1000) / N).toFixed(0)} µs`.padStart(18)}  ${ratio(a.cpuMs, b.cpuMs).padStart(14)}`);
      goals.push(`  ${a.p99 < 2000 ? "met   " : "MISSED"} round ${r + 1}: picoseg p99 ${a.p99.toFixed(0)} ms (goal < 2000 ms)`);
      goals.push(`  ${a.p99 <= b.p99 ? "met   " : "MISSED"} round ${r + 1}: picoseg p99 / go-control-plane p99 ${(a.p99 / b.p99).toFixed(3)}x (goal ≤ 1.00x)`);
    }
    console.log(`(times from the change's trigger, both including the ${DEBOUNCE} ms debounce)\n\nGoals`);
    for (const g of goals) console.log(g);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
