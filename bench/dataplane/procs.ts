// The processes of the data-plane bench: Envoys (one per configuration, `--concurrency 1`), the Go
// upstream, and Go load runs. Their CPU time and memory are read from /proc for each process
// alone. Every process started here is registered and killed when the bench ends, fails, or is
// interrupted (Ctrl-C).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { envoyBinaryPath, readAdminAddress, toYaml, waitEnvoyReady, type Bootstrap } from "../../xds-server/src/bootstrap/index.js";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { StopWaiting, waitFor } from "../../xds-server/src/util/wait.js";

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killAll(): void {
  for (const p of live) p.kill("SIGKILL");
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.once("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: stopping every process the bench started\n`);
    killAll();
    process.exit(130);
  });
}

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** A temp dir removed when the bench exits. */
export function benchTempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** User + system CPU seconds of one process (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error("process did not start");
  return child.pid;
}

/** Builds the Go load generator into .cache/bench/ (Go's build cache makes a rebuild instant). */
export function buildLoadgen(): string {
  const root = repoRoot();
  const out = join(root, ".cache", "bench", "loadgen");
  mkdirSync(join(root, ".cache", "bench"), { recursive: true });
  // GOTOOLCHAIN=local: use the installed Go, never fetch another; the module has no dependencies.
  execFileSync("go", ["build", "-o", out, "."], {
    cwd: join(root, "bench", "dataplane", "loadgen"),
    env: { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  statSync(out);
  return out;
}

export class EnvoyProc {
  private tail: string[] = [];
  private constructor(readonly name: string, readonly child: ChildProcess, readonly adminUrl: string) {
    const keep = (d: Buffer): void => {
      this.tail.push(d.toString("utf8"));
      if (this.tail.length > 50) this.tail.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  get pid(): number {
    return pidOf(this.child);
  }

  /** Starts Envoy with one worker thread; resolves when it is LIVE with its listener up. */
  static async start(name: string, bootstrap: Bootstrap, listenPort: number): Promise<EnvoyProc> {
    const dir = benchTempDir(`picoseg-bench-${name}-`);
    const config = join(dir, "bootstrap.yaml");
    const adminPath = join(dir, "admin-address");
    writeFileSync(config, toYaml(bootstrap));
    const child = track(spawn(envoyBinaryPath(), [
      "-c", config, "--disable-hot-restart", "--concurrency", "1", "-l", "warn", "--admin-address-path", adminPath,
    ], { stdio: ["ignore", "pipe", "pipe"] }));
    let log = "";
    child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString("utf8")).slice(-4000)));
    const running = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) throw new StopWaiting(`Envoy ${name} exited:\n${log}`);
    };
    const admin = await waitFor(`Envoy ${name} admin address`, () => {
      running();
      return readAdminAddress(adminPath);
    }, 30_000);
    const envoy = new EnvoyProc(name, child, `http://${admin}`);
    await waitEnvoyReady(envoy.adminUrl, [listenPort], { timeoutMs: 30_000, intervalMs: 50, label: name, assertRunning: running });
    return envoy;
  }

  logTail(): string {
    return this.tail.join("");
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 5000);
  }
}

/** The Go upstream (`loadgen serve`): every Envoy's cluster points at it. It exits when its stdin closes. */
export class Upstream {
  private constructor(readonly child: ChildProcess, readonly port: number) {}

  get pid(): number {
    return pidOf(this.child);
  }

  static async start(loadgen: string): Promise<Upstream> {
    const child = track(spawn(loadgen, ["serve", "-addr", "127.0.0.1:0"], { stdio: ["pipe", "pipe", "inherit"] }));
    const lines = createInterface({ input: child.stdout! });
    const first = await Promise.race([
      new Promise<string>((r) => lines.once("line", r)),
      new Promise<string>((_, j) => setTimeout(() => j(new Error("upstream did not start")), 10_000).unref()),
    ]);
    const port = (JSON.parse(first) as { port: number }).port;
    return new Upstream(child, port);
  }

  async stop(): Promise<void> {
    this.child.stdin?.end();
    await stopProcess(this.child, 2000);
  }
}

/** What one `loadgen run` printed at the end of its window. */
export interface LoadResult {
  mode: string;
  conns: number;
  seconds: number;
  bytes: number;
  ops: number;
  errors: number;
  firstError?: string;
  p50us: number;
  p99us: number;
  /** The generator's own CPU seconds during the window. */
  cpuSec: number;
}

export interface TlsClientFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface RunSpec {
  mode: "bulk-up" | "bulk-down" | "rr" | "connect";
  target: number;
  conns: number;
  seconds: number;
  tls?: TlsClientFiles;
}

export interface Measured {
  load: LoadResult;
  /** Envoy's CPU seconds during the window, and the window's wall time (from Envoy's side). */
  envoyCpu: number;
  wall: number;
  /** The upstream's CPU seconds during the window (part of the generator's cost). */
  upstreamCpu: number;
}

function tlsArgs(tls: TlsClientFiles | undefined): string[] {
  return tls ? ["-tls-cert", tls.certFile, "-tls-key", tls.keyFile, "-tls-ca", tls.caFile] : [];
}

/**
 * One bounded load run against 127.0.0.1:target. Envoy's and the upstream's CPU times are read
 * when the generator says its window starts ("go") and when it prints its result.
 */
export async function measure(loadgen: string, spec: RunSpec, envoy: EnvoyProc, upstream: Upstream): Promise<Measured> {
  const child = track(spawn(loadgen, [
    "run", "-mode", spec.mode, "-target", `127.0.0.1:${spec.target}`, "-conns", String(spec.conns),
    "-duration", `${Math.round(spec.seconds * 1000)}ms`, ...tlsArgs(spec.tls),
  ], { stdio: ["ignore", "pipe", "pipe"] }));
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2000)));
  const lines = createInterface({ input: child.stdout! });
  let at0: { cpu: number; up: number; t: number } | undefined;
  let out: Measured | undefined;
  lines.on("line", (line) => {
    const now = { cpu: cpuSeconds(envoy.pid), up: cpuSeconds(upstream.pid), t: performance.now() };
    if (line === "go") at0 = now;
    else if (line.startsWith("{") && at0) {
      out = { load: JSON.parse(line) as LoadResult, envoyCpu: now.cpu - at0.cpu, upstreamCpu: now.up - at0.up, wall: (now.t - at0.t) / 1000 };
    }
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  // Bounded: the window plus connection set-up and tear-down.
  const timer = setTimeout(() => child.kill("SIGKILL"), (spec.seconds + 60) * 1000);
  const code = await exited;
  clearTimeout(timer);
  if (code !== 0 || !out) throw new Error(`loadgen ${spec.mode} on ${envoy.name} failed (exit ${code}): ${stderr.trim()}`);
  return out;
}

/** Opens n idle connections (each past one 64-byte exchange) and returns a function that closes them. */
export async function holdIdle(loadgen: string, target: number, n: number, tls?: TlsClientFiles): Promise<() => Promise<void>> {
  const child = track(spawn(loadgen, [
    "run", "-mode", "idle", "-target", `127.0.0.1:${target}`, "-conns", String(n), ...tlsArgs(tls),
  ], { stdio: ["pipe", "pipe", "pipe"] }));
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2000)));
  const lines = createInterface({ input: child.stdout! });
  const ready = await Promise.race([
    new Promise<boolean>((r) => lines.once("line", () => r(true))),
    new Promise<boolean>((r) => child.once("exit", () => r(false))),
    new Promise<boolean>((r) => setTimeout(() => r(false), 120_000).unref()),
  ]);
  if (!ready) {
    child.kill("SIGKILL");
    throw new Error(`idle connections to ${target} failed: ${stderr.trim()}`);
  }
  return async () => {
    child.stdin?.end();
    await stopProcess(child, 10_000);
  };
}
