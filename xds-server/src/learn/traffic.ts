// The observed traffic of one workload, as learn and what-if read it: the stored reports flattened
// into connection aggregates, each placed at the instant its hour of the week last occurred
// before its report ended (so that a time zone's offset, DST included, applies to the right day).
import { identityOf, type ConnAggregate, type DenialAggregate } from "../../../api/report.js";
import type { StoredReport } from "../telemetry/index.js";

const HOUR_MS = 3600_000;
const WEEK_H = 168;
/** Unix 0 was a Thursday: 72 hours after a Monday 00:00 UTC. */
const EPOCH_WEEK_OFFSET_H = 72;

export interface ObservedConns extends ConnAggregate {
  /** Unix ms of the start of the hour the connections started in. */
  startedAt: number;
}

export interface Traffic {
  conns: ObservedConns[];
  denials: DenialAggregate[];
  /** Reports read, and connections / denials the filters could not aggregate. */
  reports: number;
  dropped: { conns: number; denials: number };
  /** The workload's labels as its proxies last announced them. */
  labels: Record<string, string>;
  from?: number;
  to?: number;
}

/** What one source (identity) did in one hour it started connections in. */
export interface SourceHour {
  conns: number;
  /** Both directions. */
  bytes: number;
}

/** Per source identity and hour (key `identity\0hour start`): what per-source limits are judged on. */
export function sourceHours(conns: readonly ObservedConns[]): Map<string, SourceHour> {
  const m = new Map<string, SourceHour>();
  for (const c of conns) {
    const key = sourceHourKey(c);
    const v = m.get(key) ?? { conns: 0, bytes: 0 };
    v.conns += c.n;
    v.bytes += c.in[0] + c.out[0];
    m.set(key, v);
  }
  return m;
}

export function sourceHourKey(c: ObservedConns): string {
  return `${identityOf(c)}\0${c.startedAt}`;
}

/** The UTC hour of the week (Monday 00:00 = 0) of a Unix time in ms. */
export function hourOfWeek(ms: number): number {
  return (((Math.floor(ms / HOUR_MS) + EPOCH_WEEK_OFFSET_H) % WEEK_H) + WEEK_H) % WEEK_H;
}

/** The latest hour start at or before `beforeMs` whose UTC hour of the week is `hour`. */
export function lastOccurrence(hour: number, beforeMs: number): number {
  const h = Math.floor(beforeMs / HOUR_MS);
  const back = (((hourOfWeek(beforeMs) - hour) % WEEK_H) + WEEK_H) % WEEK_H;
  return (h - back) * HOUR_MS;
}

export function trafficOf(reports: readonly StoredReport[]): Traffic {
  const t: Traffic = { conns: [], denials: [], reports: reports.length, dropped: { conns: 0, denials: 0 }, labels: {} };
  for (const r of reports) {
    t.labels = r.labels;
    t.from = Math.min(t.from ?? r.report.from, r.report.from);
    t.to = Math.max(t.to ?? r.report.to, r.report.to);
    t.dropped.conns += r.report.dropped.conns;
    t.dropped.denials += r.report.dropped.denials;
    for (const c of r.report.conns) {
      // A server from before `framing` sends reports without it: its filters measured reads.
      t.conns.push({ ...c, framing: c.framing ?? "chunk", startedAt: lastOccurrence(c.hour, r.report.to) });
    }
    t.denials.push(...r.report.denials);
  }
  return t;
}
