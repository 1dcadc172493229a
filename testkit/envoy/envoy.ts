// A real Envoy for a test: the project's installed binary, a generated bootstrap, admin on a port
// Envoy picks (read back from --admin-address-path), readiness from the admin API, stats and the
// filter's JSON decision lines from Envoy's own log. Every Envoy started here is tracked and killed
// by stopAll() (afterAll) and, at worst, when the test process exits.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  envoyBinaryPath,
  parseStats,
  readAdminAddress,
  toYaml,
  waitEnvoyReady,
  type Bootstrap,
} from "../../xds-server/src/bootstrap/index.js";
import { parseDecisionLine, type Decision } from "../../api/decision.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { StopWaiting, waitFor } from "../../xds-server/src/util/wait.js";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export interface StartEnvoyOptions {
  /** Listener ports that must be up before start() resolves (all static listeners by default). */
  listenerPorts?: number[];
  /** Worker threads; 2 by default so tests see the multi-worker behaviour. */
  concurrency?: number;
  /** Envoy's log level; info by default (the filter's decision lines must reach the log). */
  logLevel?: string;
  /** Wait for /ready (LIVE) and the listeners. False for a sidecar expected to stay warming. */
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export class Envoy {
  private logText = "";
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly dir: string,
    private readonly child: ChildProcess,
    readonly adminUrl: string,
  ) {
    child.stdout?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    child.stderr?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    child.once("exit", (code, signal) => {
      this.exited = { code, signal };
      live.delete(child);
    });
  }

  /** Starts Envoy with the bootstrap; resolves once its admin answers (and, by default, it is LIVE). */
  static async start(bootstrap: Bootstrap, opts: StartEnvoyOptions = {}): Promise<Envoy> {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-it-envoy-"));
    const config = join(dir, "bootstrap.yaml");
    const adminPath = join(dir, "admin-address");
    writeFileSync(config, toYaml(bootstrap));
    const args = [
      "-c", config,
      "--disable-hot-restart",
      "--concurrency", String(opts.concurrency ?? 2),
      "-l", opts.logLevel ?? "info",
      "--admin-address-path", adminPath,
    ];
    const child = spawn(envoyBinaryPath(), args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let exitedEarly = false;
    child.once("exit", () => (exitedEarly = true));
    const logSoFar: string[] = [];
    child.stderr?.on("data", (d: Buffer) => logSoFar.push(d.toString("utf8")));
    const timeout = opts.readyTimeoutMs ?? 30_000;
    let admin: string;
    try {
      admin = await waitFor("Envoy's admin address", () => {
        if (exitedEarly) throw new StopWaiting("Envoy exited");
        return readAdminAddress(adminPath);
      }, timeout);
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`Envoy did not start: ${(err as Error).message}\n${tail(logSoFar.join(""))}`);
    }
    const envoy = new Envoy(dir, child, `http://${admin}`);
    envoy.logText = logSoFar.join("");
    if (opts.waitReady ?? true) {
      const ports = opts.listenerPorts ??
        bootstrap.static_resources.listeners.map((l) => l.address.socket_address.port_value);
      try {
        await envoy.waitReady(ports, timeout);
      } catch (err) {
        await envoy.stop();
        throw new Error(`${(err as Error).message}\n${tail(envoy.log())}`);
      }
    }
    return envoy;
  }

  /**
   * An Envoy that another process started and relays the log of (Istio's pilot-agent): the same
   * admin, stats and decision-line reading. stop() stops that process.
   */
  static adopt(child: ChildProcess, adminUrl: string, logSoFar = ""): Envoy {
    live.add(child);
    const envoy = new Envoy(mkdtempSync(join(tmpdir(), "picoseg-it-envoy-")), child, adminUrl);
    envoy.logText = logSoFar;
    return envoy;
  }

  /** /ready answers LIVE and every given port has an active listener. */
  async waitReady(listenerPorts: number[], timeoutMs: number): Promise<void> {
    await waitEnvoyReady(this.adminUrl, listenerPorts, { timeoutMs, intervalMs: 50, assertRunning: () => this.assertRunning() });
  }

  async adminText(path: string): Promise<string> {
    this.assertRunning();
    const r = await fetch(`${this.adminUrl}${path}`, { signal: AbortSignal.timeout(5000) });
    return r.text();
  }

  /**
   * Counters and gauges whose name matches the regex (Envoy's `/stats?filter=`), name → value.
   * Envoy 1.40 registers Wasm-defined metrics under the custom stat namespace `wasmcustom`: a
   * counter the filter defines as `picoseg.denied.source` is `wasmcustom.picoseg.denied.source` in
   * /stats (text and JSON) and `picoseg_denied_source` in /stats/prometheus (prefix stripped).
   */
  async stats(filter = "picoseg"): Promise<Map<string, number>> {
    return parseStats(await this.adminText(`/stats?filter=${encodeURIComponent(filter)}`));
  }

  /** One counter by its exact name as /stats shows it (with or without `wasmcustom.`); 0 if absent. */
  async counter(name: string): Promise<number> {
    const s = await this.stats(`^(wasmcustom\\.)?${escapeRegex(name)}$`);
    return s.get(name) ?? s.get(`wasmcustom.${name}`) ?? 0;
  }

  /** Waits until counter(name) >= atLeast; returns its value. */
  async waitForCounter(name: string, atLeast: number, timeoutMs = 5000): Promise<number> {
    return waitFor(`counter ${name} >= ${atLeast}`, async () => {
      const v = await this.counter(name);
      return v >= atLeast ? v : undefined;
    }, timeoutMs, 50);
  }

  /** Everything Envoy has logged so far. */
  log(): string {
    return this.logText;
  }

  /** The filter's JSON decision lines (one per deny or audit would-deny), in log order. */
  decisions(): Decision[] {
    const out: Decision[] = [];
    for (const line of this.logText.split("\n")) {
      // Only what the filter logged: Envoy's own lines are never decisions.
      if (!line.includes("[wasm]") && !line.includes("wasm log")) continue;
      const d = parseDecisionLine(line);
      if (d) out.push(d);
    }
    return out;
  }

  /** Waits for a decision line satisfying pred, among those logged after the first `since`. */
  async waitForDecision(pred: (d: Decision) => boolean, timeoutMs = 5000, since = 0): Promise<Decision> {
    return waitFor("a picoseg decision line in Envoy's log", () => this.decisions().slice(since).find(pred), timeoutMs, 50);
  }

  /**
   * Lines where Envoy reports the Wasm VM failing: a trap ("Function: proxy_on_… failed: Uncaught
   * RuntimeError: unreachable"), an abort, a plugin that could not start. Envoy's own messages only:
   * a filter's log lines ("wasm log …") may say anything.
   */
  wasmFailures(): string[] {
    return this.logText.split("\n").filter((l) =>
      /\[(error|critical)\]\[wasm\]/.test(l) && !l.includes("wasm log") && /failed|trap|Uncaught|abort|unreachable/i.test(l));
  }

  isRunning(): boolean {
    return this.exited === undefined;
  }

  private assertRunning(): void {
    if (this.exited) {
      // An Envoy that exited will not come back: any wait on it ends now, not at its deadline.
      throw new StopWaiting(`Envoy exited (code ${this.exited.code}, signal ${this.exited.signal})\n${tail(this.logText)}`);
    }
  }

  /**
   * SIGTERM, then SIGKILL after 5 s; removes its temp dir. Safe to call twice. With
   * PICOSEG_IT_LOG_DIR set, Envoy's whole log is kept there as envoy-<pid>.log for a post-mortem.
   */
  async stop(): Promise<void> {
    const keep = process.env["PICOSEG_IT_LOG_DIR"];
    if (keep) {
      mkdirSync(keep, { recursive: true });
      writeFileSync(join(keep, `envoy-${this.child.pid ?? "unknown"}.log`), this.logText);
    }
    await stopProcess(this.child, 5000);
    live.delete(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kills every Envoy this process started (for afterAll). */
export async function stopAllEnvoys(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const p of [...live]) {
    waits.push(new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) return r();
      p.once("exit", () => r());
      p.kill("SIGKILL");
      setTimeout(r, 3000).unref();
    }));
  }
  await Promise.all(waits);
  live.clear();
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
