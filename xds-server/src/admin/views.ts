// What the HTTP side shows, read from the running server's parts: /status, /report, /decisions,
// /observations and /proposals. The HTTP side listens before the rest is built (a remote module's
// URL needs its port), so the parts built later are read through the Served holder, and a path
// whose part is not there yet answers as not ready.
import type { Registry, } from "prom-client";
import type { StatusReport } from "../../../api/status.js";
import { buildReport, describeWorkloads } from "../compliance/index.js";
import { workloadName } from "../../../api/workload.js";
import { workloadProposals } from "../learn/index.js";
import { decodeConfig, segmentKey } from "../policy/index.js";
import { proxyStatuses, type ProxyConfigs } from "../push/index.js";
import type { PolicyGate, PolicySource } from "../source/index.js";
import { DECISIONS_MISSING, type DecisionCounters, deniedAttempts, type DenialFeed, fleetReports, type PeerOptions, type ObservationStore } from "../telemetry/index.js";
import type { RefusedStreamLog, StreamRegistry, StreamTracker } from "../xds/index.js";
import type { AdminDeps } from "./routes.js";
import { defined } from "../util/index.js";

/** The running server's parts the HTTP side reads; the optional ones arrive once built. */
export interface Served {
  controlPlaneId: string;
  startedAt: number;
  registry: Registry;
  streams: StreamRegistry;
  tracker: StreamTracker;
  refusedStreams: RefusedStreamLog;
  observations: ObservationStore;
  denialFeed: DenialFeed;
  decisionIntervalMs: number;
  peers?: PeerOptions;
  module?: { bytes: Uint8Array; sha256: string };
  source?: PolicySource;
  gate?: PolicyGate;
  configs?: ProxyConfigs;
  decisions?: DecisionCounters;
}

/** Undefined when ready; else why not (/readyz's 503 body). */
export function notReady(s: Served): string | undefined {
  if (s.streams.draining) return "draining: shutting down, proxies are moving to another replica";
  if (!s.gate?.ready) return "policies not loaded yet";
  const h = s.source?.health?.();
  return h?.stale ? `policy source stale: ${h.reason ?? "unknown reason"}` : undefined;
}

export function statusReport(s: Served): StatusReport {
  const st = s.source?.current();
  const applied = s.gate?.inForce;
  const stale = s.source?.health?.();
  return {
    controlPlane: s.controlPlaneId,
    startedAt: s.startedAt,
    ready: s.gate?.ready ?? false,
    policySource: s.source?.description ?? "",
    policyRevision: st?.revision ?? 0,
    segments: (applied?.segments ?? []).map((x) => segmentKey(x.segment)),
    noSegments: applied !== undefined && applied.segments.length === 0,
    ...(stale?.stale ? { policySourceStale: stale.reason ?? "stale" } : {}),
    policyNotices: s.gate?.policyNotices() ?? [],
    refusals: [...(st?.refusals ?? [])],
    recentRefusals: s.gate?.recentRefusals() ?? [],
    proxies: s.configs ? proxyStatuses(s.configs, s.tracker) : [],
    refusedStreams: s.refusedStreams.list(),
  };
}

/** What the compliance report and describe read. */
function reportInput(s: Served): Parameters<typeof describeWorkloads>[0] {
  return {
    controlPlane: s.controlPlaneId,
    policyRevision: s.source?.current()?.revision ?? 0,
    segments: s.gate?.inForce?.segments ?? [],
    proxies: s.configs ? proxyStatuses(s.configs, s.tracker) : [],
    decisions: s.decisions?.proxies() ?? [],
    deniedAttempts: (nodeIds) => deniedAttempts(s.observations.fromNodes(nodeIds, 0)),
  };
}

/** Everything the routes read, from the running parts. */
export function adminViews(s: Served): AdminDeps {
  return {
    notReady: () => notReady(s),
    status: () => statusReport(s),
    registry: s.registry,
    module: () => s.module,
    report: (regime) => buildReport({ ...reportInput(s), ...(regime ? { regime } : {}) }),
    describe: (target) => ({
      controlPlane: s.controlPlaneId,
      policyRevision: s.source?.current()?.revision ?? 0,
      // A pod's sidecars carry its name in their node id (Istio: sidecar~IP~POD.NS~NS.svc.cluster.local).
      workloads: describeWorkloads(reportInput(s), (p) =>
        "workload" in target ? workloadName(p.workload, p.nodeId) === target.workload : p.workload.namespace === target.namespace && p.nodeId.includes(`~${target.pod}.${target.namespace}~`),
      ),
    }),
    proxyConfig: (nodeId) => {
      const p = (s.configs ? proxyStatuses(s.configs, s.tracker) : []).find((x) => x.nodeId === nodeId);
      const content = s.configs?.describe(nodeId);
      if (!p || !content) return undefined;
      return {
        nodeId,
        workload: p.workload,
        segments: p.segments,
        resources: p.resources,
        ...(content.config !== undefined ? { config: content.config, decoded: decodeConfig(content.config) } : {}),
        ...defined({ error: content.error }),
      };
    },
    decisions: () => ({
      intervalMs: s.decisionIntervalMs,
      samples: s.decisions?.samples() ?? [],
      proxies: s.decisions?.proxies() ?? [],
      missing: DECISIONS_MISSING,
    }),
    observations: async (query, scope, authorization) => {
      const { reports, peers } = await fleetReports(s.observations, s.peers, query, scope, authorization);
      return { ...defined({ workload: query.workload }), since: query.sinceMs, scope, reports, ...(peers ? { peers } : {}) };
    },
    proposals: async (query, authorization) => {
      const { reports, peers } = await fleetReports(s.observations, s.peers, query, "fleet", authorization);
      const inForce = s.gate?.inForce?.segments ?? [];
      return {
        since: query.since,
        from: query.sinceMs,
        margin: query.margin,
        timezone: query.timezone,
        segmentsInForce: inForce.map((x) => segmentKey(x.segment)),
        ...(peers ? { peers } : {}),
        workloads: workloadProposals(reports, { margin: query.margin, timezone: query.timezone }, inForce, peers?.missing ?? []),
      };
    },
    denialFeed: (res) => s.denialFeed.attach(res),
  };
}
