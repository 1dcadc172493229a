// What `/status` and `picoseg status` show: per connected proxy, who it is, which segments
// select it, and per resource what was sent, what it ACKed, and the detail of its last NACK.
// The tracker learns all of it from the stream callbacks.
import type { Workload } from "../policy/types.js";
import type { Refusal } from "../source/types.js";
import type { ProxyConfigs } from "../push/proxy-configs.js";
import type { Callbacks, ResourceVersion, SentResponse, StreamInfo, XdsProtocol, XdsService } from "./server/callbacks.js";

export interface ResourceStatus {
  name: string;
  /** Version in the proxy's snapshot now (what it should converge to). */
  current?: string;
  sent?: string;
  sentAt?: number;
  acked?: string;
  ackedAt?: number;
  nack?: { version: string; detail: string; at: number };
}

export interface StreamStatus {
  id: number;
  service: XdsService;
  protocol: XdsProtocol;
  peer: string;
  /** The SPIFFE ID of its verified client certificate (mTLS). */
  identity?: string;
  connectedAt: number;
  /**
   * The protocol-level version of the last response and of the last one ACKed: sotw
   * `version_info` (what Envoy's config_dump shows for sotw) or delta `system_version_info`.
   */
  versionSent?: string;
  versionAcked?: string;
}

export interface ProxyStatus {
  nodeId: string;
  cluster: string;
  workload: Workload;
  segments: string[];
  /** The `generation` line of its current config (what the filter's revocation compares). */
  generation?: number;
  warnings: string[];
  error?: string;
  streams: StreamStatus[];
  resources: ResourceStatus[];
}

export interface StatusReport {
  controlPlane: string;
  startedAt: number;
  ready: boolean;
  policySource: string;
  /** Why the source no longer follows its origin (a vanished directory); absent when fresh. */
  policySourceStale?: string;
  policyRevision: number;
  /** Segments in force (served to proxies). */
  segments: string[];
  /** In force and empty: every workload a filter protects denies every connection. */
  noSegments: boolean;
  /** Valid but suspicious policy changes (loosened segments, no segments, refused states), newest last (bounded). */
  policyNotices: PolicyNotice[];
  /** Refusals standing now (their files keep their previous good state). */
  refusals: Refusal[];
  /** The latest refusals, standing or since fixed, newest last (bounded). */
  recentRefusals: Refusal[];
  proxies: ProxyStatus[];
  /** The latest streams refused for naming a node they may not speak for, newest last (bounded). */
  refusedStreams: RefusedStream[];
}

export interface PolicyNotice {
  at: number;
  kind: "loosened" | "no-segments" | "below-min-segments";
  text: string;
}

export interface RefusedStream {
  at: number;
  nodeId: string;
  peer: string;
  identity?: string;
  /** The workload the refused stream claimed. */
  claimed: Workload;
  reason: string;
  message: string;
}

interface TrackedStream {
  info: StreamInfo;
  resources: Map<string, ResourceStatus>;
  versionSent?: string;
  versionAcked?: string;
}

export class StreamTracker implements Callbacks {
  private readonly streams = new Map<number, TrackedStream>();

  onStreamOpen(stream: StreamInfo): void {
    this.streams.set(stream.id, { info: stream, resources: new Map() });
  }

  onStreamClosed(stream: StreamInfo): void {
    this.streams.delete(stream.id);
  }

  onResponse(stream: StreamInfo, r: SentResponse): void {
    const t = this.record(stream, "sent", r.resources);
    if (!t) return;
    t.versionSent = r.version;
    for (const name of r.removed) t.resources.delete(name);
  }

  /** A reconnecting delta client holds these versions: it accepted them earlier, so they count as ACKed. */
  onInitialVersions(stream: StreamInfo, _typeUrl: string, versions: ReadonlyMap<string, string>): void {
    this.record(stream, "acked", [...versions].map(([name, version]) => ({ name, version })));
  }

  onAck(stream: StreamInfo, r: SentResponse): void {
    const t = this.record(stream, "acked", r.resources);
    if (t) t.versionAcked = r.version;
  }

  onNack(stream: StreamInfo, r: SentResponse, detail: string): void {
    const t = this.streams.get(stream.id);
    if (!t) return;
    const at = Date.now();
    for (const x of r.resources) this.resource(t, x.name).nack = { version: x.version, detail, at };
  }

  streamCount(): number {
    return this.streams.size;
  }

  /** Joins stream state with each proxy's content. */
  proxies(configs: ProxyConfigs): ProxyStatus[] {
    const out: ProxyStatus[] = [];
    for (const id of configs.proxyIds().sort()) {
      const c = configs.describe(id);
      if (!c) continue;
      const streams = c.streams.map((sid) => this.streams.get(sid)).filter((t): t is TrackedStream => !!t);
      const resources = new Map<string, ResourceStatus>();
      // Oldest stream first, so the newest stream's view of a resource wins.
      for (const t of streams.sort((a, b) => a.info.openedAt - b.info.openedAt)) {
        for (const [name, s] of t.resources) resources.set(name, { ...s });
      }
      for (const [name, version] of Object.entries(c.currentVersions)) {
        const s = resources.get(name) ?? { name };
        s.current = version;
        resources.set(name, s);
      }
      const generation = /^generation (\d+)$/m.exec(c.config ?? "")?.[1];
      out.push({
        nodeId: id,
        cluster: c.node.cluster,
        workload: c.node.workload,
        segments: c.segments,
        ...(generation !== undefined ? { generation: Number(generation) } : {}),
        warnings: c.warnings,
        ...(c.error !== undefined ? { error: c.error } : {}),
        streams: streams.map((t) => ({
          id: t.info.id,
          service: t.info.service,
          protocol: t.info.protocol,
          peer: t.info.peer,
          ...(t.info.identity !== undefined ? { identity: t.info.identity } : {}),
          connectedAt: t.info.openedAt,
          ...(t.versionSent !== undefined ? { versionSent: t.versionSent } : {}),
          ...(t.versionAcked !== undefined ? { versionAcked: t.versionAcked } : {}),
        })),
        resources: [...resources.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      });
    }
    return out;
  }

  /** Stamps each resource's version as sent or as ACKed, now; undefined for a stream not tracked. */
  private record(stream: StreamInfo, what: "sent" | "acked", versions: readonly ResourceVersion[]): TrackedStream | undefined {
    const t = this.streams.get(stream.id);
    if (!t) return undefined;
    const at = Date.now();
    for (const { name, version } of versions) {
      const s = this.resource(t, name);
      if (what === "sent") {
        s.sent = version;
        s.sentAt = at;
      } else {
        s.acked = version;
        s.ackedAt = at;
      }
    }
    return t;
  }

  private resource(t: TrackedStream, name: string): ResourceStatus {
    let s = t.resources.get(name);
    if (!s) {
      s = { name };
      t.resources.set(name, s);
    }
    return s;
  }
}
