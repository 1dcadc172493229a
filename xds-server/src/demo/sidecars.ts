// The demo's sidecars: the project's installed Envoy, one per workload, started with the sidecar
// bootstrap (the picoseg filter fed by ECDS from the demo's xDS server, downstream mTLS requiring
// a client certificate from the demo CA). Envoy's log goes to a file the user can tail; the
// filter's JSON decision lines are also parsed as they arrive.
import { createWriteStream, writeFileSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { defined, freeLoopbackPort, sleep, stopProcess, StopWaiting, waitFor } from "../util/index.js";
import type { ChildProcess } from "node:child_process";
import {
  fetchStats,
  readAdminAddress,
  sidecarBootstrap,
  toYaml,
  type Bootstrap,
  type DownstreamTls,
  type HostPort,
  waitEnvoyReady,
} from "../bootstrap/index.js";
import { parseDecisionLine, type Decision } from "../../../api/decision.js";
import type { ProcessGroup } from "./processes.js";

export interface SidecarSpec {
  /** Short name used for files and in the table, e.g. "cart-cache". */
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  serviceAccount?: string;
  /** The inbound listener, e.g. 127.0.0.2:6379. */
  listen: HostPort;
  /** More inbound ports on the same address, forwarded to the same upstream. */
  extraPorts?: number[];
  upstream: HostPort;
}

export interface SidecarContext {
  xds: HostPort;
  tls: DownstreamTls;
  /** Directory for bootstraps and logs. */
  dir: string;
  envoyBinary: string;
  processes: ProcessGroup;
  initialFetchTimeoutSeconds?: number;
}

/** The sidecar bootstrap for spec (its extra ports included). */
export function demoBootstrap(
  spec: SidecarSpec,
  ctx: Pick<SidecarContext, "xds" | "tls" | "initialFetchTimeoutSeconds">,
  adminPort = 0,
): Bootstrap {
  const workload = spec.labels["app"] ?? spec.name;
  return sidecarBootstrap({
    admin: { host: "127.0.0.1", port: adminPort },
    xds: ctx.xds,
    api: "GRPC",
    initialFetchTimeoutSeconds: ctx.initialFetchTimeoutSeconds ?? 15,
    listener: { listen: spec.listen, upstream: spec.upstream, tls: ctx.tls },
    ...(spec.extraPorts ? { extraPorts: spec.extraPorts } : {}),
    node: {
      id: sidecarNodeId(spec),
      cluster: `${workload}.${spec.namespace}`,
      namespace: spec.namespace,
      labels: spec.labels,
      annotations: spec.annotations ?? {},
      workloadName: workload,
      ...defined({ serviceAccount: spec.serviceAccount }),
      // The server reads this sidecar's decision counters there (console, report, audit trail).
      ...(adminPort !== 0 ? { adminAddress: `127.0.0.1:${adminPort}` } : {}),
    },
  });
}

export function sidecarNodeId(spec: SidecarSpec): string {
  // Istio's shape: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local
  return `sidecar~${spec.listen.host}~${spec.name}.${spec.namespace}~${spec.namespace}.svc.cluster.local`;
}

export class Sidecar {
  readonly nodeId: string;
  readonly logFile: string;
  private decisionLines: Decision[] = [];
  private tailLines: string[] = [];
  private partial = "";
  private exited: string | undefined;

  private constructor(
    readonly spec: SidecarSpec,
    private readonly child: ChildProcess,
    private readonly log: WriteStream,
    logFile: string,
    readonly adminUrl: string,
  ) {
    this.nodeId = sidecarNodeId(spec);
    this.logFile = logFile;
  }

  /** Every port this sidecar listens on. */
  get ports(): number[] {
    return [this.spec.listen.port, ...(this.spec.extraPorts ?? [])];
  }

  static async start(spec: SidecarSpec, ctx: SidecarContext): Promise<Sidecar> {
    const config = join(ctx.dir, `${spec.name}.bootstrap.yaml`);
    const adminPath = join(ctx.dir, `${spec.name}.admin-address`);
    const logFile = join(ctx.dir, `${spec.name}.envoy.log`);
    writeFileSync(config, toYaml(demoBootstrap(spec, ctx, await freeLoopbackPort())));
    const args = [
      "-c", config,
      "--disable-hot-restart",
      "--concurrency", "1",
      "-l", "info",
      // The filter logs allowed connections at debug: the table names the rule that admitted them.
      "--component-log-level", "wasm:debug",
      "--admin-address-path", adminPath,
    ];
    const child = ctx.processes.spawn(ctx.envoyBinary, args);
    const log = createWriteStream(logFile);
    let early: string | undefined;
    child.once("exit", (code, signal) => (early = `exited (code ${code}, signal ${signal})`));
    child.once("error", (err) => (early = err.message));
    const pending: Buffer[] = [];
    const collect = (d: Buffer): void => void pending.push(d);
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    let admin: string;
    try {
      admin = await waitFor(`${spec.name}: Envoy's admin address`, () => {
        if (early) throw new StopWaiting(`Envoy ${early}`);
        return readAdminAddress(adminPath);
      }, 20_000, 50);
    } catch (err) {
      await stopProcess(child);
      log.end(Buffer.concat(pending));
      const text = Buffer.concat(pending).toString("utf8").split("\n").slice(-30).join("\n");
      throw new Error(`sidecar ${spec.name} did not start: ${(err as Error).message}\n${text}`);
    }
    const sc = new Sidecar(spec, child, log, logFile, `http://${admin}`);
    child.stdout?.off("data", collect);
    child.stderr?.off("data", collect);
    for (const d of pending) sc.onOutput(d);
    child.stdout?.on("data", (d: Buffer) => sc.onOutput(d));
    child.stderr?.on("data", (d: Buffer) => sc.onOutput(d));
    child.on("exit", (code, signal) => (sc.exited = `exited (code ${code}, signal ${signal})`));
    return sc;
  }

  private onOutput(d: Buffer): void {
    this.log.write(d);
    const text = this.partial + d.toString("utf8");
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      this.tailLines.push(line);
      if (this.tailLines.length > 60) this.tailLines.shift();
      const decision = parseDecisionLine(line);
      if (decision) {
        this.decisionLines.push(decision);
        if (this.decisionLines.length > 20_000) this.decisionLines.splice(0, 10_000);
      }
    }
  }

  /** The last lines Envoy logged (for error messages). */
  tail(): string {
    return this.tailLines.join("\n");
  }

  isRunning(): boolean {
    return this.exited === undefined;
  }

  /** Decision lines for one client connection, identified by its source address "IP:PORT". */
  decisionsFor(source: string): Decision[] {
    return this.decisionLines.filter((d) => d.source === source);
  }

  /** Waits until Envoy is LIVE and every listener is up (the ECDS config has arrived by then). */
  async waitReady(timeoutMs: number): Promise<void> {
    await waitEnvoyReady(this.adminUrl, this.ports, {
      timeoutMs,
      intervalMs: 100,
      label: this.spec.name,
      assertRunning: () => {
        if (this.exited) throw new StopWaiting(`Envoy ${this.exited}\n${this.tail()}`);
      },
    });
  }

  /**
   * picoseg counters from Envoy's /stats. Envoy keeps Wasm-defined metrics in its `wasmcustom`
   * stat namespace and strips that prefix in /stats, so they read picoseg.allowed,
   * picoseg.denied.<reason>, picoseg.audit.<reason>.
   */
  async counters(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [name, value] of await fetchStats(this.adminUrl, "^(wasmcustom\\.)?picoseg\\.", 3000)) {
      const key = name.replace(/^wasmcustom\./, "");
      out.set(key, (out.get(key) ?? 0) + value);
    }
    return out;
  }

  /** Envoy stats whose name matches the regex, name → value. */
  async stats(filter: string): Promise<Map<string, number>> {
    return fetchStats(this.adminUrl, filter, 3000);
  }

  /** The Envoy process id (the same before and after a hot change: no restart). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
    // Let the last output drain into the log file.
    await sleep(20);
    await new Promise<void>((r) => this.log.end(() => r()));
  }
}
