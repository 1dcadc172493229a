// Learning mode's memory: what the connections of one interval looked like, per (peer principal,
// source IP, destination port, protocol, framing their messages were measured under, hour of the
// week they started), and the denials of the interval per (reason, principal, source IP, port,
// mode). Both tables have a fixed number of slots (open addressing, a few probes): a full
// neighbourhood evicts its least useful entry (the one with the fewest connections) and counts
// what it held as dropped, so memory never grows with the number of distinct sources. Filled at connection end and on a denial, never per byte;
// encoded into one report body (JSON) and emptied by the flush.
import { jsonString } from "./decisionlog";
import { REASONS } from "./reasons";
import { protocolName } from "./sniff";

/** Slots probed for a key before the least useful of them is evicted. */
const PROBES: i32 = 8;
const HOUR_MS: i64 = 3600000;
/** 1970-01-01 (Unix 0) was a Thursday: hours since then plus 72 count from a Monday 00:00 UTC. */
const EPOCH_WEEK_OFFSET_H: i64 = 72;

/** Hour of the UTC week (Monday 00:00 = 0 … Sunday 23:00 = 167) of a Unix time in ms. */
export function hourOfWeek(ms: i64): i32 {
  let h = ms / HOUR_MS;
  if (ms < 0 && h * HOUR_MS != ms) h--;
  let w = (h + EPOCH_WEEK_OFFSET_H) % 168;
  if (w < 0) w += 168;
  return <i32>w;
}

/**
 * What both tables key on: the peer (principal, IP), the port and two more fields (`a`, `b`: the
 * protocol and start hour of connections, the reason and mode of denials), the framing messages
 * were measured under (connections; "" for denials), with their hash. Measures taken under two
 * framings never share an aggregate.
 */
export class Keyed {
  constructor(public principal: string, public ip: string, public port: i32, public a: i32, public b: i32, public framing: string, public hash: u32) {}
  /** Connections (or denials) aggregated here. */
  n: u64 = 0;
}

/** Connections of one (principal, IP, port, protocol, framing, start hour): count, and sum/min/max of each measure. */
export class ConnAggregate extends Keyed {
  get protocol(): i32 { return this.a; }
  get hour(): i32 { return this.b; }
  inSum: u64 = 0;
  inMin: u64 = u64.MAX_VALUE;
  inMax: u64 = 0;
  outSum: u64 = 0;
  outMin: u64 = u64.MAX_VALUE;
  outMax: u64 = 0;
  /** Largest message of each connection under `framing` ("chunk": its largest read): the smallest and the largest of those. */
  msgMin: u64 = u64.MAX_VALUE;
  msgMax: u64 = 0;
  durMin: u64 = u64.MAX_VALUE;
  durMax: u64 = 0;
}

/** Denials (or audit would-denies) of one (reason, principal, IP, port, mode) in the interval. */
export class DenialAggregate extends Keyed {
  get reason(): i32 { return this.a; }
  get audit(): bool { return this.b != 0; }
}

function mix(h: u32, v: u32): u32 {
  return (h ^ v) * 16777619;
}

function hashText(h: u32, s: string): u32 {
  for (let i = 0; i < s.length; i++) h = mix(h, <u32>s.charCodeAt(i));
  return h;
}

function roundUpPow2(n: i32): i32 {
  let p = 16;
  while (p < n && p < (1 << 20)) p <<= 1;
  return p;
}

/** What the last aggregateIn() displaced: nothing (a free slot), or an aggregate of `evictedN`. */
var filledFree: bool = false;
var evictedN: u64 = 0;

/**
 * The aggregate of a key in `table`: found among `PROBES` slots from its home slot, else made in
 * a free one of them, else in place of the least useful (fewest aggregated) of them.
 */
function aggregateIn<T extends Keyed>(table: Array<T | null>, principal: string, ip: string, port: i32, a: i32, b: i32, framing: string): T {
  let h = mix(mix(mix(hashText(hashText(hashText(2166136261, principal), ip), framing), <u32>port), <u32>a), <u32>b);
  let mask = <u32>table.length - 1;
  let slot = -1;
  let least = u64.MAX_VALUE;
  let free = -1;
  for (let k: u32 = 0; k < <u32>PROBES; k++) {
    let i = <i32>((h + k) & mask);
    let e = unchecked(table[i]);
    if (e === null) {
      if (free < 0) free = i;
      continue;
    }
    let x = e as T;
    if (x.hash == h && x.port == port && x.a == a && x.b == b && x.ip == ip && x.principal == principal && x.framing == framing) return x;
    if (x.n < least) { least = x.n; slot = i; }
  }
  filledFree = free >= 0;
  evictedN = filledFree ? 0 : least;
  if (filledFree) slot = free;
  let made = instantiate<T>(principal, ip, port, a, b, framing, h);
  unchecked(table[slot] = made);
  return made;
}

export class Observations {
  conns: Array<ConnAggregate | null>;
  denials: Array<DenialAggregate | null>;
  connCount: i32 = 0;
  denialCount: i32 = 0;
  /** Connections (and denials) whose aggregate was evicted for want of room. */
  droppedConns: u64 = 0;
  droppedDenials: u64 = 0;
  /** Start of the interval the tables describe (ms); 0 until the first entry. */
  fromMs: i64 = 0;

  /** `capacity` connection slots (rounded up to a power of two) and a quarter as many denial slots. */
  constructor(capacity: i32) {
    let n = roundUpPow2(capacity);
    this.conns = new Array<ConnAggregate | null>(n);
    let d = roundUpPow2(n >> 2);
    this.denials = new Array<DenialAggregate | null>(d);
  }

  get empty(): bool {
    return this.connCount == 0 && this.denialCount == 0 && this.droppedConns == 0 && this.droppedDenials == 0;
  }

  /**
   * A finished connection: its principal ("" without mTLS), source IP, port, protocol (-1 unknown),
   * the framing its largest message was measured under ("chunk": reads), start, bytes, largest
   * message, duration.
   */
  addConnection(principal: string, ip: string, port: i32, protocol: i32, framing: string, startMs: i64, bytesIn: u64, bytesOut: u64, largestMessage: u64, durationMs: u64, nowMs: i64): void {
    if (this.fromMs == 0) this.fromMs = nowMs;
    let a = aggregateIn<ConnAggregate>(this.conns, principal, ip, port, protocol, hourOfWeek(startMs), framing);
    if (a.n == 0) {
      if (filledFree) this.connCount++;
      else this.droppedConns += evictedN;
    }
    a.n++;
    a.inSum += bytesIn;
    if (bytesIn < a.inMin) a.inMin = bytesIn;
    if (bytesIn > a.inMax) a.inMax = bytesIn;
    a.outSum += bytesOut;
    if (bytesOut < a.outMin) a.outMin = bytesOut;
    if (bytesOut > a.outMax) a.outMax = bytesOut;
    if (largestMessage < a.msgMin) a.msgMin = largestMessage;
    if (largestMessage > a.msgMax) a.msgMax = largestMessage;
    if (durationMs < a.durMin) a.durMin = durationMs;
    if (durationMs > a.durMax) a.durMax = durationMs;
  }

  /** One denial (or audit would-deny) by reason of a source (principal, IP) on a port. */
  addDenial(principal: string, ip: string, port: i32, reason: i32, audit: bool, nowMs: i64): void {
    if (this.fromMs == 0) this.fromMs = nowMs;
    let d = aggregateIn<DenialAggregate>(this.denials, principal, ip, port, reason, audit ? 1 : 0, "");
    if (d.n == 0) {
      if (filledFree) this.denialCount++;
      else this.droppedDenials += evictedN;
    }
    d.n++;
  }

  /**
   * The report body (JSON; xds-server/src/observe/report.ts reads it) for the interval up to
   * `nowMs`, and the tables emptied for the next one.
   */
  takeReport(nodeId: string, boot: i64, instance: u32, seq: u64, nowMs: i64): string {
    let parts = new Array<string>();
    parts.push("{\"v\":1,\"node\":" + jsonString(nodeId) + ",\"boot\":" + boot.toString() + ",\"instance\":" + instance.toString() + ",\"seq\":" + seq.toString() +
      ",\"from\":" + (this.fromMs == 0 ? nowMs : this.fromMs).toString() + ",\"to\":" + nowMs.toString() + ",\"conns\":[");
    let first = true;
    for (let i = 0; i < this.conns.length; i++) {
      let e = unchecked(this.conns[i]);
      if (e === null) continue;
      let a = e as ConnAggregate;
 parts.push((first ? "" : ",") + "{\"principal\":" + jsonString(a.principal) + ",\"ip\":" + jsonString(a.ip) + ",\"port\":" + a.port.toString() +
        ",\"proto\":" + (a.protocol >= 0 ? jsonString(protocolName(a.protocol)) : "null") +
        ",\"hour\":" + a.hour.toString() + ",\"n\":" + a.n.toString() +
        ",\"in\":[" + a.inSum.toString() + "," + a.inMin.toString() + "," + a.inMax.toString() + "]" +
        ",\"out\":[" + a.outSum.toString() + "," + a.outMin.toString() + "," + a.outMax.toString() + "]" +
        ",\"msg\":[" + a.msgMin.toString() + "," + a.msgMax.toString() + "],\"framing\":" + jsonString(a.framing) +
        ",\"dur\":[" + a.durMin.toString() + "," + a.durMax.toString() + "]}");
      first = false;
      unchecked(this.conns[i] = null);
    }
    parts.push("],\"denials\":[");
    first = true;
    for (let i = 0; i < this.denials.length; i++) {
      let e = unchecked(this.denials[i]);
      if (e === null) continue;
      let d = e as DenialAggregate;
      let reason = d.reason >= 0 && d.reason < REASONS.length ? REASONS[d.reason] : "";
      parts.push((first ? "" : ",") + "{\"reason\":" + jsonString(reason) + ",\"principal\":" + jsonString(d.principal) + ",\"ip\":" + jsonString(d.ip) +
        ",\"port\":" + (d.port < 0 ? "null" : d.port.toString()) + ",\"mode\":" + (d.audit ? "\"audit\"" : "\"enforce\"") +
        ",\"n\":" + d.n.toString() + "}");
      first = false;
      unchecked(this.denials[i] = null);
    }
    parts.push("],\"dropped\":{\"conns\":" + this.droppedConns.toString() + ",\"denials\":" + this.droppedDenials.toString() + "}}");
    this.connCount = 0;
    this.denialCount = 0;
    this.droppedConns = 0;
    this.droppedDenials = 0;
    this.fromMs = 0;
    return parts.join("");
  }
}
