// What the server can see of the filters' decisions: each filter counts them in Envoy counters
// (`picoseg.allowed`, `picoseg.denied.<reason>`, `picoseg.audit.<reason>`, shown by Envoy under
// `wasmcustom.`), and a proxy on this machine may announce its admin address in its node metadata
// (PICOSEG_ADMIN). This module reads those counters every interval and keeps, per proxy and in
// total, the decisions counted while this server ran, plus a short history for the console's chart.
//
// What it cannot see: who was denied. The report channel (observe/) brings that, aggregated per
// interval by reason and source, for regulated and learning workloads; a single connection's
// line is only in the filter's JSON log in Envoy's own log. In a mesh (admin on the pod's
// loopback) Prometheus scrapes Envoy's counters instead (dashboards/).
import { Counter, type Registry } from "prom-client";
import { type Workload, workloadName } from "../../../api/workload.js";
import { type NodeInfo } from "../xds/index.js";
import { errorMessage } from "../util/index.js";
import { reasonOf, type Reason, type Verdict } from "../../../api/decision.js";

/** What the console and report say about what the server cannot see of the filters' decisions. */
export const DECISIONS_MISSING =
  "Counts come from the Envoy counters of proxies that announce their loopback admin address (node metadata PICOSEG_ADMIN, as picoseg sidecar and the demo do). " +
  "Who was denied: the filters of regulated workloads (and of learning ones) report their denied attempts by reason and source every few seconds (below, live; and in picoseg report). " +
  "Not shown: single connections; each one's own line (its source, principal and port, and the reason) is only in the filter's JSON log in Envoy's log.";

/** `allow`, `deny:<reason>` or `audit:<reason>` (countKey). */
export type CountKey = string;

export function countKey(verdict: Verdict, reason: Reason | ""): CountKey {
  return verdict === "allow" ? "allow" : `${verdict}:${reason}`;
}

/** The filter's counter names say `allowed` and `denied`; the verdicts are api/decision.ts's. */
const COUNTER_VERDICTS: Readonly<Record<string, Verdict>> = { allowed: "allow", denied: "deny", audit: "audit" };

export interface ProxyEndpoint {
  nodeId: string;
  workload: Workload;
  /** Node metadata PICOSEG_ADMIN, as the proxy sent it. */
  admin?: string;
  /** Its xDS stream ids now: a proxy whose streams are all new has reconnected (maybe restarted). */
  streams?: readonly number[];
}

export interface ProxyDecisions {
  nodeId: string;
  workload: string;
  /** Counts since `since`, by key. */
  counts: Record<CountKey, number>;
  since: number;
  lastReadAt?: number;
  /** Why the counters could not be read (absent admin address, refused address, HTTP error). */
  error?: string;
}

export interface DecisionSample {
  at: number;
  /** Totals over every proxy read so far, by key (they only grow). */
  totals: Record<CountKey, number>;
}

export interface DecisionDelta {
  nodeId: string;
  workload: string;
  verdict: Verdict;
  reason: Reason | "";
  count: number;
}

export interface DecisionCountersOptions {
  proxies: () => ProxyEndpoint[];
  intervalMs?: number;
  /** Samples kept for the chart. Default 600 (10 min at 1 s). */
  historyPoints?: number;
  registry?: Registry;
  onDeltas?: (deltas: DecisionDelta[]) => void;
}

/** Loopback only: a proxy's metadata must not turn the server into a client of any address. */
const LOOPBACK_ADDRESS = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):(\d{1,5})$/;

/** `wasmcustom.picoseg.denied.port` → deny, port; `picoseg.allowed` → allow. */
export function parseCounterName(name: string): { verdict: Verdict; reason: Reason | "" } | undefined {
  const m = /^(?:wasmcustom\.)?picoseg\.(allowed|denied|audit)(?:\.([a-z-]+))?$/.exec(name);
  if (!m) return undefined;
  const verdict = COUNTER_VERDICTS[m[1]!]!;
  if ((verdict === "allow") !== (m[2] === undefined)) return undefined;
  const reason = reasonOf(m[2]);
  if (verdict !== "allow" && reason === "") return undefined;
  return { verdict, reason };
}

/** A proxy gone this long is forgotten; until then a reconnect continues its counts. */
const FORGET_AFTER_MS = 10 * 60_000;

interface ProxyState {
  last: Map<CountKey, number>;
  view: ProxyDecisions;
  present: boolean;
  goneAt?: number;
  /** When the Envoy process last read started (ms since epoch, to the second). */
  envoyStart?: number;
  streams: ReadonlySet<number>;
}

export class DecisionCounters {
  private readonly state = new Map<string, ProxyState>();
  private readonly startedAt = Date.now();
  private readonly totals = new Map<CountKey, number>();
  private readonly history: DecisionSample[] = [];
  private readonly metric: Counter<"namespace" | "workload" | "verdict" | "reason"> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: DecisionCountersOptions) {
    this.metric = opts.registry
      ? new Counter({
          name: "picoseg_proxy_decisions_total",
          help: "Filter decisions read from proxies' Envoy counters (proxies that announce PICOSEG_ADMIN), by verdict and reason",
          labelNames: ["namespace", "workload", "verdict", "reason"],
          registers: [opts.registry],
        })
      : undefined;
  }

  start(): void {
    const tick = (): void => {
      this.running = this.readAll().finally(() => {
        this.running = undefined;
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** The proxies connected now. */
  proxies(): ProxyDecisions[] {
    return [...this.state.values()].filter((s) => s.present).map((s) => ({ ...s.view, counts: { ...s.view.counts } }));
  }

  samples(): DecisionSample[] {
    return this.history.map((s) => ({ at: s.at, totals: { ...s.totals } }));
  }

  /** Reads every proxy once (the interval calls it; tests may too). */
  async readAll(): Promise<void> {
    const seen = new Set<string>();
    const deltas: DecisionDelta[] = [];
    await Promise.all(
      this.opts.proxies().map(async (p) => {
        seen.add(p.nodeId);
        deltas.push(...(await this.readOne(p)));
      }),
    );
    const now = Date.now();
    for (const [id, st] of this.state) {
      if (seen.has(id)) continue;
      // Kept a while: an xDS stream that reconnects must not have its counts read again.
      st.present = false;
      st.goneAt ??= now;
      if (now - st.goneAt > FORGET_AFTER_MS) this.state.delete(id);
    }
    for (const d of deltas) {
      const key = countKey(d.verdict, d.reason);
      this.totals.set(key, (this.totals.get(key) ?? 0) + d.count);
    }
    this.history.push({ at: Date.now(), totals: Object.fromEntries(this.totals) });
    this.history.splice(0, Math.max(0, this.history.length - (this.opts.historyPoints ?? 600)));
    if (deltas.length > 0) this.opts.onDeltas?.(deltas);
  }

  private async readOne(p: ProxyEndpoint): Promise<DecisionDelta[]> {
    const workload = workloadName(p.workload, p.nodeId);
    let s = this.state.get(p.nodeId);
    if (!s) {
      s = { last: new Map(), view: { nodeId: p.nodeId, workload, counts: {}, since: Date.now() }, present: true, streams: new Set(p.streams ?? []) };
      this.state.set(p.nodeId, s);
    }
    s.present = true;
    delete s.goneAt;
    const reconnected = s.streams.size > 0 && (p.streams ?? []).length > 0 && !(p.streams ?? []).some((id) => s!.streams.has(id));
    s.streams = new Set(p.streams ?? []);
    const view = s.view;
    if (p.admin === undefined) {
      view.error = "no admin address in node metadata (PICOSEG_ADMIN): decisions not readable";
      return [];
    }
    if (!LOOPBACK_ADDRESS.test(p.admin)) {
      view.error = `admin address ${JSON.stringify(p.admin)} refused: only loopback addresses are read`;
      return [];
    }
    let stats: Map<CountKey, { verdict: Verdict; reason: Reason | ""; value: number }>;
    let envoyStart: number;
    try {
      // When this Envoy process started: /server_info computes its uptime when asked (the
      // server.uptime gauge only moves at each stats flush).
      const info = await fetch(`http://${p.admin}/server_info`, { signal: AbortSignal.timeout(2000) });
      if (info.status !== 200) throw new Error(`/server_info: HTTP ${info.status}`);
      const uptime = /^(\d+(?:\.\d+)?)s$/.exec(String(((await info.json()) as { uptime_current_epoch?: unknown }).uptime_current_epoch ?? ""));
      if (!uptime) throw new Error("/server_info: no uptime_current_epoch");
      envoyStart = Date.now() - Number(uptime[1]) * 1000;
      const r = await fetch(`http://${p.admin}/stats?filter=${encodeURIComponent("^(wasmcustom\\.)?picoseg\\.")}`, {
        signal: AbortSignal.timeout(2000),
      });
      if (r.status !== 200) throw new Error(`/stats: HTTP ${r.status}`);
      stats = new Map();
      for (const line of (await r.text()).split("\n")) {
        const m = /^(\S+): (\d+)$/.exec(line);
        const c = m ? parseCounterName(m[1]!) : undefined;
        if (c) stats.set(countKey(c.verdict, c.reason), { ...c, value: Number(m![2]) });
      }
    } catch (err) {
      view.error = `reading http://${p.admin}: ${errorMessage(err)}`;
      return [];
    }
    delete view.error;
    const first = view.lastReadAt === undefined;
    // Another Envoy process behind the same node id (restarted): its counters start from zero,
    // even if they already climbed back to the value last read (1 → restart → 1 is a new decision).
    // Uptime is in whole seconds, so a start more than 2 s away is another process; so is, after a
    // reconnect, one that started after the last read of the old one (within the second).
    const restarted =
      s.envoyStart !== undefined &&
      (Math.abs(envoyStart - s.envoyStart) > 2000 || (reconnected && view.lastReadAt !== undefined && envoyStart >= view.lastReadAt - 1000));
    if (restarted) s.last.clear();
    s.envoyStart = envoyStart;
    // First read of a proxy: an Envoy that started after this server made all its decisions while
    // the server was up, so they count from zero; an older one (the server restarted) may have been
    // counted by the previous server: its current values are the baseline.
    const countAll = first && envoyStart >= this.startedAt - 1000;
    view.lastReadAt = Date.now();
    const out: DecisionDelta[] = [];
    for (const [key, { verdict, reason, value }] of stats) {
      // A counter that went down also means a restart: its new value is all new.
      const prev = s.last.get(key) ?? (first && !countAll ? value : 0);
      const delta = value >= prev ? value - prev : value;
      s.last.set(key, value);
      if (delta === 0) continue;
      view.counts[key] = (view.counts[key] ?? 0) + delta;
      out.push({ nodeId: p.nodeId, workload, verdict, reason, count: delta });
      this.metric?.inc({ namespace: p.workload.namespace, workload, verdict, reason }, delta);
    }
    return out;
  }
}

/** The connected proxies that announce a loopback admin address (PICOSEG_ADMIN): their counters can be read. */
export function announcedAdmins(nodes: ReadonlyArray<{ id: string; node: NodeInfo; streams: number[] }>): ProxyEndpoint[] {
  return nodes.map(({ id, node, streams }) => {
    const admin = node.metadata["PICOSEG_ADMIN"];
    return { nodeId: id, workload: node.workload, streams, ...(typeof admin === "string" ? { admin } : {}) };
  });
}
