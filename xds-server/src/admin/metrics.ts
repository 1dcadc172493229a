// Prometheus metrics of the xDS server, fed by the stream callbacks and the policy source.
// Each server owns its registry, so several servers in one process (tests) do not collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Callbacks, SentResponse, StreamInfo, StreamRefusal, NodeInfo } from "../xds/index.js";
import type { PolicyState, PolicyGateObserver } from "../source/index.js";
import type { Refusal, PolicyNotice } from "../../../api/status.js";

export class XdsMetrics implements Callbacks, PolicyGateObserver {
  readonly registry = new Registry();
  private readonly streams: Gauge<"service" | "protocol">;
  private readonly pushes: Counter<"protocol">;
  private readonly acks: Counter<"protocol">;
  private readonly nacks: Counter<"protocol">;
  private readonly pushLatency: Histogram<"protocol">;
  private readonly refused: Counter;
  private readonly refusalErrors: Counter;
  private readonly refusalsNow: Gauge;
  private readonly segments: Gauge;
  private readonly refusedStreams: Counter<"reason">;
  private readonly loosened: Counter;
  private readonly heldStates: Counter;
  private readonly noSegments: Gauge;

  constructor(connectedProxies: () => number, opts: { processMetrics?: boolean; sourceStale?: () => boolean } = {}) {
    const registers = [this.registry];
    new Gauge({
      name: "picoseg_xds_connected_proxies",
      help: "Proxies (distinct node ids) with at least one open xDS stream",
      registers,
      collect() {
        this.set(connectedProxies());
      },
    });
    this.streams = new Gauge({ name: "picoseg_xds_streams", help: "Open xDS streams", labelNames: ["service", "protocol"], registers });
    this.pushes = new Counter({ name: "picoseg_xds_pushes_total", help: "Discovery responses sent", labelNames: ["protocol"], registers });
    this.acks = new Counter({ name: "picoseg_xds_acks_total", help: "Responses ACKed by proxies", labelNames: ["protocol"], registers });
    this.nacks = new Counter({ name: "picoseg_xds_nacks_total", help: "Responses NACKed by proxies", labelNames: ["protocol"], registers });
    this.pushLatency = new Histogram({
      name: "picoseg_xds_push_latency_seconds",
      help: "From a proxy's snapshot change to its ACK of the response carrying it",
      labelNames: ["protocol"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    this.refused = new Counter({
      name: "picoseg_policy_refused_documents_total",
      help: "Policy documents refused (invalid), or files refused as a whole",
      registers,
    });
    this.refusalErrors = new Counter({ name: "picoseg_policy_refusal_errors_total", help: "Errors in refused policy documents", registers });
    this.refusalsNow = new Gauge({ name: "picoseg_policy_refusals", help: "Refusals standing now", registers });
    this.segments = new Gauge({ name: "picoseg_policy_segments", help: "Segments in force", registers });
    this.refusedStreams = new Counter({
      name: "picoseg_xds_refused_streams_total",
      help: "xDS streams refused for naming a node they may not speak for",
      labelNames: ["reason"],
      registers,
    });
    this.loosened = new Counter({
      name: "picoseg_policy_loosened_total",
      help: "Segments that lost a rule, schedule, limit or restriction they had (accepted and reported)",
      registers,
    });
    this.heldStates = new Counter({
      name: "picoseg_policy_held_states_total",
      help: "Policy states refused for having fewer segments than --min-segments",
      registers,
    });
    const stale = opts.sourceStale ?? (() => false);
    new Gauge({
      name: "picoseg_policy_source_stale",
      help: "1 while the policy source cannot follow its origin (e.g. the watched directory is gone); the last good state is served",
      registers,
      collect() {
        this.set(stale() ? 1 : 0);
      },
    });
    this.noSegments = new Gauge({ name: "picoseg_policy_no_segments", help: "1 when no segment is in force (every selected workload denies)", registers });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: "picoseg_" });
  }

  onStreamOpen(s: StreamInfo): void {
    this.streams.inc({ service: s.service, protocol: s.protocol });
  }
  onStreamClosed(s: StreamInfo): void {
    this.streams.dec({ service: s.service, protocol: s.protocol });
  }
  onResponse(s: StreamInfo): void {
    this.pushes.inc({ protocol: s.protocol });
  }
  onAck(s: StreamInfo, r: SentResponse): void {
    this.acks.inc({ protocol: s.protocol });
    this.pushLatency.observe({ protocol: s.protocol }, Math.max(0, Date.now() - r.snapshotSetAt) / 1000);
  }
  onNack(s: StreamInfo): void {
    this.nacks.inc({ protocol: s.protocol });
  }
  onStreamRefused(_s: StreamInfo, _claimed: NodeInfo, refusal: StreamRefusal): void {
    this.refusedStreams.inc({ reason: refusal.reason });
  }

  onOffered(state: PolicyState, fresh: readonly Refusal[]): void {
    // A document with eight errors is one refusal: count documents, and the errors apart.
    this.refused.inc(new Set(fresh.map((r) => `${r.file}\0${r.document ?? "file"}`)).size);
    this.refusalErrors.inc(fresh.length);
    this.refusalsNow.set(state.refusals.length);
  }

  /** The state proxies are now served from. */
  onApplied(state: PolicyState): void {
    this.segments.set(state.segments.length);
    this.noSegments.set(state.segments.length === 0 ? 1 : 0);
  }

  onNotice({ kind }: PolicyNotice): void {
    if (kind === "loosened") this.loosened.inc();
    else if (kind === "below-min-segments") this.heldStates.inc();
  }
}
