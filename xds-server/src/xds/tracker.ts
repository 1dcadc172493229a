// Per xDS stream: what was sent, what the proxy ACKed, and the detail of its last NACK, per
// resource, learned from the stream callbacks. /status joins this with each proxy's content
// (push/status.ts).
import type { ResourceStatus, StreamStatus } from "../../../api/status.js";
import type { Callbacks, ResourceVersion, SentResponse, StreamInfo } from "./server/callbacks.js";
import { defined } from "../util/index.js";

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

  /**
   * What the given streams (one proxy's) sent, and what was ACKed or NACKed, per resource; the
   * newest stream's view of a resource wins. Streams not tracked are left out.
   */
  view(streamIds: readonly number[]): { streams: StreamStatus[]; resources: Map<string, ResourceStatus> } {
    const tracked = streamIds.map((sid) => this.streams.get(sid)).filter((t): t is TrackedStream => !!t);
    const resources = new Map<string, ResourceStatus>();
    // Oldest stream first, so the newest stream's view of a resource wins.
    for (const t of tracked.sort((a, b) => a.info.openedAt - b.info.openedAt)) {
      for (const [name, s] of t.resources) resources.set(name, { ...s });
    }
    const streams = tracked.map((t) => ({
      id: t.info.id,
      service: t.info.service,
      protocol: t.info.protocol,
      peer: t.info.peer,
      ...defined({ identity: t.info.identity }),
      connectedAt: t.info.openedAt,
      ...defined({ versionSent: t.versionSent, versionAcked: t.versionAcked }),
    }));
    return { streams, resources };
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
