// The body a filter sends on its report channel (filter/assembly/observe.ts writes it; the
// telemetry package reads and checks it): what one proxy saw in one interval. Connections are
// aggregated per (peer principal, source IP, destination port, protocol, framing, hour of the UTC
// week they started); denials per (reason, principal, source IP, port, mode). And what the server
// makes of the denials: attempts by reason and source, for reports and the console.
import type { Reason } from "./decision.js";
import type { Protocol } from "./picosegment.js";

/** Largest body a proxy may send (its tables are bounded: 1024 aggregates are about 250 KiB). */
export const MAX_REPORT_BYTES = 1024 * 1024;

/** [sum, min, max] over the aggregate's connections. */
export type SumMinMax = [number, number, number];
/** [min, max] over the aggregate's connections. */
export type MinMax = [number, number];

/** Who connected: the mTLS peer principal ("" without one) and the source IP ("" when unknown). */
export interface Peer {
  principal: string;
  ip: string;
}

/** The per-source identity of docs/design.md: the principal, else the source IP. */
export function identityOf(p: Peer): string {
  return p.principal !== "" ? p.principal : p.ip !== "" ? p.ip : "?";
}

export interface ConnAggregate extends Peer {
  port: number;
  /** The sniffed protocol; null when the governing rule did not sniff. */
  proto: Protocol | null;
  /** Hour of the UTC week the connections started in: Monday 00:00 = 0 … Sunday 23:00 = 167. */
  hour: number;
  /** Connections. */
  n: number;
  in: SumMinMax;
  out: SumMinMax;
  /** The largest message of each connection under `framing` (under "chunk": its largest read). */
  msg: MinMax;
  /**
   * The framing `msg` was measured under, as the filter's `framing` line names it without the
   * keyword (filter/CONFIG.md): "chunk" (reads), "lengthPrefixed 1 4 big -4", "delimited 0a",
   * "postgres", "mqtt", "kafka". A filter from before this field measured reads: "chunk".
   */
  framing: string;
  /** Duration of each connection, ms. */
  dur: MinMax;
}

export interface DenialAggregate extends Peer {
  reason: Reason;
  port: number | null;
  mode: "enforce" | "audit";
  n: number;
}

export interface ProxyReport {
  v: 1;
  /** The reporting Envoy's node id. */
  node: string;
  /** When the reporting filter instance (one per Envoy worker) started, µs: with `node`, names its stream of reports. */
  boot: number;
  /**
   * A random number the filter instance drew at its start (0 from a filter that draws none): two
   * workers of one Envoy whose boots fall in the same µs still name two streams.
   */
  instance: number;
  /** Increases by one per report of that stream; a resent body keeps its number. */
  seq: number;
  /** The interval, Unix ms (the proxy's clock). */
  from: number;
  to: number;
  conns: ConnAggregate[];
  denials: DenialAggregate[];
  /** Connections and denials whose aggregates were evicted for want of room in the filter. */
  dropped: { conns: number; denials: number };
}

/** Denied attempts of one source for one reason, as the workload's filters reported them. */
export interface DeniedAttempt {
  reason: Reason;
  /** The source identity: the mTLS principal, else the source IP. */
  source: string;
  /** enforce: closed; audit: would have been. */
  mode: "enforce" | "audit";
  count: number;
  /** The first and last report that carried them (ms since epoch). */
  from: number;
  to: number;
}
