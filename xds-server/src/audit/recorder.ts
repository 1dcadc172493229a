// What goes into the audit trail, from the server's own events: every policy state accepted or
// refused (its source, content hash and what changed), every response sent to a proxy and that
// proxy's ACK or NACK, and the filters' decisions summed per interval (never one line per
// connection). The chain and the file are chain.ts's business.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import type { DecisionDelta } from "../telemetry/index.js";
import { workloadName } from "../../../api/workload.js";
import type { LoadedSegment } from "../policy/index.js";
import type { PolicyState, PolicyGateObserver } from "../source/index.js";
import type { Refusal } from "../../../api/status.js";
import type { Callbacks, SentResponse, StreamInfo } from "../xds/index.js";
import { AuditWriter, type AuditWriterOptions } from "./chain.js";
import { defined, errorMessage } from "../util/index.js";

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

function segmentHashes(segments: readonly LoadedSegment[]): Map<string, { hash: string; source: string }> {
  const out = new Map<string, { hash: string; source: string }>();
  for (const s of segments) {
    out.set(`${s.segment.metadata.namespace}/${s.segment.metadata.name}`, {
      hash: sha256(JSON.stringify(s.segment)),
      source: `${s.source.file}:${s.source.line}`,
    });
  }
  return out;
}

/** sha256 of a refused source's bytes when it is a readable file (a CR's text is not at hand). */
function fileHash(file: string): string | undefined {
  try {
    if (!existsSync(file) || !statSync(file).isFile()) return undefined;
    return sha256(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

export interface AuditRecorderOptions extends AuditWriterOptions {
  /** Denials (and allows) are summed over this interval before one entry is written. Default 60 s. */
  summaryIntervalMs?: number;
  /** A write that failed (disk full, file removed): said here, never thrown into the server. */
  onError?: (message: string) => void;
}

export class AuditRecorder implements Callbacks, PolicyGateObserver {
  private readonly writer: AuditWriter;
  private hashes = new Map<string, { hash: string; source: string }>();
  private started = false;
  private pending = new Map<string, DecisionDelta>();
  private pendingFrom = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly onError: (message: string) => void;
  /** Entries that could not be written since the last one that could. */
  private lost = 0;

  constructor(file: string, start: Record<string, unknown>, opts: AuditRecorderOptions = {}) {
    this.writer = new AuditWriter(file, opts);
    this.onError = opts.onError ?? ((m) => console.error(m));
    this.append("server.start", start);
    this.timer = setInterval(() => this.flushDecisions(), opts.summaryIntervalMs ?? 60_000);
    this.timer.unref();
  }

  get file(): string {
    return this.writer.file;
  }

  /** A policy state the server serves from now on. */
  onApplied(state: PolicyState, notices: readonly string[]): void {
    const next = segmentHashes(state.segments);
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    for (const [k, v] of next) {
      const before = this.hashes.get(k);
      if (!before) added.push(k);
      else if (before.hash !== v.hash) changed.push(k);
    }
    for (const k of this.hashes.keys()) if (!next.has(k)) removed.push(k);
    // A refusal alone publishes the same segments again: not a new state for the trail.
    if (this.started && added.length + changed.length + removed.length === 0) return;
    this.started = true;
    this.hashes = next;
    const all = [...next.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    this.append("policy.accepted", {
      revision: state.revision,
      // One hash for the whole state: the segments' names and content hashes, in name order.
      hash: sha256(all.map(([k, v]) => `${k} ${v.hash}`).join("\n")),
      segments: Object.fromEntries(all),
      diff: { added, changed, removed },
      ...(notices.length > 0 ? { notices } : {}),
    });
  }

  /** Documents or files refused; their previous state stays in force. */
  onOffered(_state: PolicyState, refusals: readonly Refusal[]): void {
    for (const r of refusals) {
      const h = fileHash(r.file);
      this.append("policy.refused", { source: r.file, line: r.line, error: r.text, ...(h ? { contentHash: h } : {}) });
    }
  }

  /** A valid state the server would not serve (e.g. --min-segments). */
  onHeld(state: PolicyState, why: string): void {
    this.append("policy.held", { revision: state.revision, segments: state.segments.length, reason: why });
  }

  onResponse(stream: StreamInfo, r: SentResponse): void {
    this.append("xds.sent", { ...this.who(stream), version: r.version, nonce: r.nonce, resources: r.resources, removed: r.removed });
  }

  onAck(stream: StreamInfo, r: SentResponse): void {
    this.append("xds.ack", { ...this.who(stream), version: r.version, nonce: r.nonce, resources: r.resources });
  }

  onNack(stream: StreamInfo, r: SentResponse, detail: string): void {
    this.append("xds.nack", { ...this.who(stream), version: r.version, nonce: r.nonce, resources: r.resources, detail });
  }

  /** Decisions read from the proxies, summed until the interval ends. */
  decisions(deltas: readonly DecisionDelta[]): void {
    for (const d of deltas) {
      const key = `${d.workload}\0${d.verdict}\0${d.reason}`;
      const p = this.pending.get(key);
      if (p) p.count += d.count;
      else this.pending.set(key, { ...d });
    }
  }

  flushDecisions(): void {
    const to = Date.now();
    if (this.pending.size > 0) {
      const counts = [...this.pending.values()]
        .map((d) => ({ workload: d.workload, verdict: d.verdict, reason: d.reason, count: d.count }))
        .sort((a, b) => (`${a.workload} ${a.verdict} ${a.reason}` < `${b.workload} ${b.verdict} ${b.reason}` ? -1 : 1));
      this.append("decisions", {
        from: new Date(this.pendingFrom).toISOString(),
        to: new Date(to).toISOString(),
        counts,
        // Envoy counters carry no source; the filter's log lines do, but do not reach the server.
        sources: "not reported (Envoy counters carry no source)",
      });
    }
    this.pending = new Map();
    this.pendingFrom = to;
  }

  close(): void {
    clearInterval(this.timer);
    this.flushDecisions();
    this.append("server.stop", {});
    this.writer.close();
  }

  /**
   * The trail must not stop the server from serving proxies: a failed write is reported, and the
   * next entry that can be written says how many were lost (the gap is in the trail itself).
   */
  private append(kind: string, data: Record<string, unknown>): void {
    try {
      if (this.lost > 0) {
        this.writer.append("audit.lost", { entries: this.lost });
        this.lost = 0;
      }
      this.writer.append(kind, data);
    } catch (err) {
      this.lost += 1;
      this.onError(`picoseg: audit log ${this.writer.file}: ${kind} not written: ${errorMessage(err)}`);
    }
  }

  private who(stream: StreamInfo): Record<string, unknown> {
    const node = stream.node;
    return {
      node: node?.id ?? "",
      ...(node ? { workload: workloadName(node.workload, node.id) } : {}),
      stream: stream.id,
      ...defined({ identity: stream.identity }),
    };
  }
}
