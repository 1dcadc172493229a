// One real Envoy running the real picoseg filter (filter/build/picoseg.wasm) on several listeners,
// each with its own upstream and, if it wants, its own configuration string and VM. A test names its
// listeners; configurations are built once the ports are known (rules match destination ports).
import { staticBootstrap, type DownstreamTls } from "../../xds-server/src/bootstrap/index.js";
import { filterWasmPath } from "../../xds-server/src/util/index.js";
import { Envoy, stopAllEnvoys } from "./envoy.js";
import { freePorts } from "./ports.js";
import { Upstream, type UpstreamOptions } from "./upstream.js";
import { waitFor } from "../../xds-server/src/util/wait.js";

export interface Snapshot {
  counters: Map<string, number>;
  /** Number of decision lines in Envoy's log at the time. */
  decisions: number;
}

export interface FilterListener {
  /** Name used by the test (and in the listener's name). */
  name: string;
  /** The listener's filter configuration, given every listener's port by name. */
  config: (ports: Record<string, number>) => string;
  /**
   * Listeners with the same vmId share one Wasm VM per worker (and its shared data). Default: a VM of
   * the listener's own, so that one listener's test cannot disturb another's (per-source state).
   */
  vmId?: string;
  upstream?: UpstreamOptions;
  /** Proxy to this server (a real broker or database) instead of the listener's own test upstream. */
  target?: { host: string; port: number };
  tls?: DownstreamTls;
  /** Spread connections over the workers deterministically (see ListenerSpec.exactBalance). */
  exactBalance?: boolean;
  /** Listen on the IPv6 socket `::ffff:127.0.0.1` (see ListenerSpec.ipv4Compat): sources arrive IPv4-mapped. */
  dualStack?: boolean;
  /** See ListenerSpec.upstreamConnect ("immediate" with tls: Istio's listeners). */
  upstreamConnect?: "immediate" | "afterTlsHandshake";
}

export class FilterEnv {
  private constructor(
    readonly envoy: Envoy,
    readonly ports: Record<string, number>,
    private readonly upstreams: Map<string, Upstream>,
    readonly configs: Record<string, string>,
  ) {}

  static async start(listeners: FilterListener[]): Promise<FilterEnv> {
    const portList = await freePorts(listeners.length);
    const ports: Record<string, number> = {};
    listeners.forEach((l, i) => (ports[l.name] = portList[i]!));
    const upstreams = new Map<string, Upstream>();
    try {
      for (const l of listeners) upstreams.set(l.name, await Upstream.start(l.upstream));
      const configs: Record<string, string> = {};
      for (const l of listeners) configs[l.name] = l.config(ports);
      const envoy = await Envoy.start(staticBootstrap({
        admin: { host: "127.0.0.1", port: 0 },
        wasm: { filename: filterWasmPath() },
        configuration: "",
        listeners: listeners.map((l) => ({
          name: `it_${l.name.replace(/[^A-Za-z0-9_]/g, "_")}`,
          listen: { host: l.dualStack ? "::ffff:127.0.0.1" : "127.0.0.1", port: ports[l.name]! },
          ...(l.dualStack ? { ipv4Compat: true } : {}),
          upstream: l.target ?? { host: "127.0.0.1", port: upstreams.get(l.name)!.port },
          configuration: configs[l.name]!,
          vmId: l.vmId ?? `picoseg_${l.name}`,
          ...(l.tls ? { tls: l.tls } : {}),
          ...(l.exactBalance ? { exactBalance: true } : {}),
          ...(l.upstreamConnect ? { upstreamConnect: l.upstreamConnect } : {}),
        })),
      }), { concurrency: 2 });
      return new FilterEnv(envoy, ports, upstreams, configs);
    } catch (err) {
      for (const u of upstreams.values()) await u.stop();
      throw err;
    }
  }

  port(name: string): number {
    const p = this.ports[name];
    if (p === undefined) throw new Error(`no listener ${name}`);
    return p;
  }

  /** How many connections each worker thread accepted on the listener (worker_0, worker_1, …). */
  async perWorkerConnections(name: string): Promise<number[]> {
    const stats = await this.envoy.stats(`^listener\\.127\\.0\\.0\\.1_${this.port(name)}\\.worker_\\d+\\.downstream_cx_total$`);
    const out: number[] = [];
    for (const [k, v] of stats) {
      const m = /worker_(\d+)\.downstream_cx_total$/.exec(k);
      if (m) out[Number(m[1])] = v;
    }
    return out;
  }

  upstream(name: string): Upstream {
    const u = this.upstreams.get(name);
    if (!u) throw new Error(`no upstream ${name}`);
    return u;
  }

  /**
   * The picoseg counters (names as /stats shows them, wasmcustom. included) and how many decision
   * lines Envoy has logged, taken before a test's connection so that its effects can be told apart.
   */
  async snapshot(): Promise<Snapshot> {
    return { counters: await this.envoy.stats("picoseg"), decisions: this.envoy.decisions().length };
  }

  /**
   * Waits until counter `name` (e.g. "picoseg.denied.source") has grown by exactly `by` since
   * `before`; growing past it fails (a decision counted twice).
   */
  async expectCounterDelta(before: Snapshot, name: string, by: number, timeoutMs = 5000): Promise<void> {
    const base = before.counters.get(`wasmcustom.${name}`) ?? before.counters.get(name) ?? 0;
    await waitFor(`${name} to grow by ${by} (from ${base})`, async () => {
      const now = await this.envoy.counter(name);
      if (now > base + by) throw new Error(`${name} grew by ${now - base}, expected ${by}`);
      return now === base + by ? true : undefined;
    }, timeoutMs, 50);
  }

  /** Envoy's reports of the Wasm VM failing (see Envoy.wasmFailures). */
  wasmFailures(): string[] {
    return this.envoy.wasmFailures();
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
    await stopAllEnvoys();
    for (const u of this.upstreams.values()) await u.stop();
  }
}

/** A configuration string (filter/CONFIG.md) from its lines; adds the header and `end`. */
export function picosegConfig(...lines: string[]): string {
  return ["picoseg 1", ...lines, "end", ""].join("\n");
}
