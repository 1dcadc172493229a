// `picoseg what-if`: the observed traffic of a workload replayed against a set of segments, before
// anything is enforced. The decision follows the filter's (filter/assembly/rules.ts and the
// admission and data paths): the first rule whose `from` and `ports` match governs; no match is
// `source`, `port` or `no-rule`; then schedule (at the hour the connections started), protocol, and
// the per-connection limits. Counts are what the filter's audit counters would show: every reason a
// connection would hit, once per connection. Message sizes are judged only when the filter
// measured them under the rule's own framing (a largest read says nothing of a length-prefixed
// message's size, nor the reverse).
//
// Aggregates carry each measure's min and max, so a limit between them cannot say how many of the
// group's connections pass it: such a count is a range. Per-source limits are estimated per
// source-hour (the filter's windows start at each source's first connection).
import { parseCidr, type Cidr, framingText, segmentKey, parsePort, parseDuration, parseQuantity, windowIntervals, MINUTES_PER_WEEK, selectSegments, offsetFunction, type LoadedSegment } from "../policy/index.js";
import type { Workload } from "../../../api/workload.js";
import type { Rule } from "../../../api/picosegment.js";
import { identityOf } from "../../../api/report.js";
import { type Reason } from "../../../api/decision.js";
import { sourceHourKey, sourceHours, type ObservedConns, type SourceHour, type Traffic } from "./traffic.js";

/** How many connections would hit a reason: exactly `lo` when lo == hi, else between them. */
export interface Count {
  lo: number;
  hi: number;
}

export interface WhatIfResult {
  workload: string;
  segments: string[];
  connections: number;
  /** Connections no rule, schedule, protocol or limit would stop. */
  clean: Count;
  byReason: Partial<Record<Reason, Count>>;
  /** identity → reason → count. */
  bySource: Record<string, Partial<Record<Reason, Count>>>;
  /** What the observations cannot settle (e.g. protocols that were never sniffed). */
  notes: string[];
}

interface CompiledRule {
  segment: string;
  audit: boolean;
  rule: Rule;
  principals: string[];
  ipBlocks: Cidr[];
  notIpBlocks: Cidr[];
  ports: Array<{ lo: number; hi: number }>;
  schedule?: { offsetAt: (unixSeconds: number) => number; intervals: Array<{ start: number; end: number }> };
  maxBytesIn?: number;
  maxBytesOut?: number;
  maxMessageBytes?: number;
  /** The rule's framing as framingText() names it, as a report does ("chunk" when it names none). */
  framing: string;
  maxDurationSeconds?: number;
  perSource?: { maxConnections?: number; maxBytes?: number; windowS: number };
}

export function whatIf(traffic: Traffic, segments: readonly LoadedSegment[], workload: string): WhatIfResult {
  const [namespace] = workload.split("/") as [string, string];
  const w: Workload = { namespace, labels: traffic.labels, annotations: {} };
  const selected = selectSegments(segments, w);
  const rules = selected.flatMap(({ segment }) =>
    (segment.spec.rules ?? []).map((rule) => compileRule(segmentKey(segment), (segment.spec.mode ?? "enforce") === "audit", rule)),
  );
  const result: WhatIfResult = {
    workload,
    segments: selected.map((s) => segmentKey(s.segment)),
    connections: 0,
    clean: { lo: 0, hi: 0 },
    byReason: {},
    bySource: {},
    notes: [],
  };
  const notes = new Set<string>();
  const perSourceLoad = sourceHours(traffic.conns);
  for (const c of traffic.conns) {
    result.connections += c.n;
    const hits = judge(c, rules, perSourceLoad, notes);
    // Clean: none of the reasons surely hits (hi), and at most those that surely hit none.
    const surely = Math.max(0, ...hits.map((h) => h.count.lo));
    const maybe = Math.min(c.n, hits.reduce((a, h) => a + h.count.hi, 0));
    result.clean.lo += c.n - maybe;
    result.clean.hi += c.n - surely;
    for (const h of hits) {
      if (h.count.hi === 0) continue;
      add(result.byReason, h.reason, h.count);
      add((result.bySource[identityOf(c)] ??= {}), h.reason, h.count);
    }
  }
  result.notes = [...notes].sort();
  return result;
}

interface Hit {
  reason: Reason;
  count: Count;
}

function judge(c: ObservedConns, rules: readonly CompiledRule[], perSource: Map<string, SourceHour>, notes: Set<string>): Hit[] {
  const all: Count = { lo: c.n, hi: c.n };
  if (rules.length === 0) return [{ reason: "no-rule", count: all }];
  let firstFrom: CompiledRule | undefined;
  let governing: CompiledRule | undefined;
  for (const r of rules) {
    if (!fromMatches(r, c)) continue;
    firstFrom ??= r;
    if (portMatches(r, c.port)) {
      governing = r;
      break;
    }
  }
  if (!governing) return [{ reason: firstFrom ? "port" : "source", count: all }];
  const r = governing;
  const hits: Hit[] = [];
  if (r.schedule && !inSchedule(r.schedule, c.startedAt)) hits.push({ reason: "schedule", count: all });
  const listed = r.rule.protocols;
  if (listed && listed.length > 0) {
    if (c.proto === null) {
      notes.add(`protocol: rule ${r.segment}/${r.rule.name} lists protocols, but the observing rule sniffed none: not judged`);
    } else if (!listed.includes(c.proto)) {
      hits.push({ reason: "protocol", count: all });
    }
  }
  if (r.maxBytesIn !== undefined) hits.push({ reason: "bytes-in", count: above(c.in[1], c.in[2], r.maxBytesIn, c.n) });
  if (r.maxBytesOut !== undefined) hits.push({ reason: "bytes-out", count: above(c.out[1], c.out[2], r.maxBytesOut, c.n) });
  if (r.maxMessageBytes !== undefined) {
    if (c.framing === r.framing) {
      hits.push({ reason: "message-size", count: above(c.msg[0], c.msg[1], r.maxMessageBytes, c.n) });
    } else {
      const measured = c.framing === "chunk" ? "reads only (chunk)" : `messages under ${c.framing}`;
      notes.add(`message-size: rule ${r.segment}/${r.rule.name} frames messages as ${r.framing}; the filter measured ${measured}: not judged`);
    }
  }
  if (r.maxDurationSeconds !== undefined) {
    // The filter closes a connection once it has lasted the limit (checked each tick).
    hits.push({ reason: "duration", count: above(c.dur[0] + 1, c.dur[1] + 1, r.maxDurationSeconds * 1000, c.n) });
  }
  if (r.perSource) {
    const load = perSource.get(sourceHourKey(c));
    if (load && r.perSource.maxConnections !== undefined && load.conns > r.perSource.maxConnections) {
      // Which of the source's connections in the hour come past the limit is not known: share them out.
      const excess = Math.round(((load.conns - r.perSource.maxConnections) * c.n) / load.conns);
      hits.push({ reason: "source-connections", count: { lo: excess, hi: excess } });
      notes.add("source-connections: estimated per source-hour");
    }
    if (load && r.perSource.maxBytes !== undefined && load.bytes > r.perSource.maxBytes) {
      hits.push({ reason: "source-bytes", count: { lo: 1, hi: c.n } });
      notes.add("source-bytes: estimated per source-hour");
    }
  }
  return hits.filter((h) => h.count.hi > 0);
}

/** Connections of a group whose measure passes `limit`, from the group's min and max of it. */
function above(min: number, max: number, limit: number, n: number): Count {
  if (max <= limit) return { lo: 0, hi: 0 };
  if (min > limit) return { lo: n, hi: n };
  return { lo: 1, hi: n - 1 > 0 ? n - 1 : 1 };
}

function add(into: Partial<Record<Reason, Count>>, reason: Reason, c: Count): void {
  const prev = into[reason] ?? { lo: 0, hi: 0 };
  into[reason] = { lo: prev.lo + c.lo, hi: prev.hi + c.hi };
}

function compileRule(segment: string, audit: boolean, rule: Rule): CompiledRule {
  const cidr = (s: string): Cidr => {
    const p = parseCidr(s);
    if (!p.ok) throw new Error(`${segment} rule ${rule.name}: ${p.message}`);
    return ipv4Mapped(p.value);
  };
  const bytes = (q: number | string | undefined): number | undefined => {
    if (q === undefined) return undefined;
    const p = parseQuantity(q);
    if (!p.ok) throw new Error(`${segment} rule ${rule.name}: ${p.message}`);
    return p.value;
  };
  const out: CompiledRule = {
    segment,
    audit,
    rule,
    principals: rule.from?.principals ?? [],
    ipBlocks: (rule.from?.ipBlocks ?? []).map(cidr),
    notIpBlocks: (rule.from?.notIpBlocks ?? []).map(cidr),
    ports: (rule.ports ?? []).map((p) => {
      const r = parsePort(p);
      if (!r.ok) throw new Error(`${segment} rule ${rule.name}: ${r.message}`);
      return r.value;
    }),
    framing: framingText(rule.limits?.framing ?? { type: "chunk" }),
  };
  if (rule.schedule) {
    out.schedule = { offsetAt: offsetFunction(rule.schedule.timezone ?? "UTC"), intervals: rule.schedule.windows.flatMap(windowIntervals) };
  }
  const l = rule.limits ?? {};
  const set = <K extends keyof CompiledRule>(k: K, v: CompiledRule[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set("maxBytesIn", bytes(l.maxBytesIn));
  set("maxBytesOut", bytes(l.maxBytesOut));
  set("maxMessageBytes", bytes(l.maxMessageBytes));
  set("maxDurationSeconds", l.maxDurationSeconds);
  if (rule.perSource) {
    const window = parseDuration(rule.perSource.window);
    const ps: NonNullable<CompiledRule["perSource"]> = { windowS: window.ok ? window.value : 3600 };
    const mb = bytes(rule.perSource.maxBytes);
    if (mb !== undefined) ps.maxBytes = mb;
    if (rule.perSource.maxConnections !== undefined) ps.maxConnections = rule.perSource.maxConnections;
    out.perSource = ps;
  }
  return out;
}

function fromMatches(r: CompiledRule, c: ObservedConns): boolean {
  if (r.principals.length > 0 && !r.principals.some((p) => principalMatches(p, c.principal))) return false;
  if (r.ipBlocks.length === 0 && r.notIpBlocks.length === 0) return true;
  // A source that is unknown or does not parse matches no rule that names blocks (the filter fails closed).
  const source = sourceAddress(c.ip);
  if (source === null) return false;
  if (r.ipBlocks.length > 0 && !r.ipBlocks.some((b) => contains(b, source))) return false;
  return !r.notIpBlocks.some((b) => contains(b, source));
}

/** As the filter: exact, `prefix*`, `*suffix`, or `*` (any peer that has a principal). */
export function principalMatches(pattern: string, principal: string): boolean {
  if (principal === "") return false;
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return principal.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return principal.endsWith(pattern.slice(1));
  return principal === pattern;
}

/**
 * An IPv4-mapped IPv6 address or block (`::ffff:a.b.c.d`, prefix ≥ 96) is the IPv4 address or
 * block it maps, as the filter reads both (filter/CONFIG.md): `::ffff:10.0.0.0/104` is 10.0.0.0/8.
 */
function ipv4Mapped(c: Cidr): Cidr {
  if (c.family === 6 && c.prefix >= 96 && c.bytes.slice(0, 10).every((b) => b === 0) && c.bytes[10] === 0xff && c.bytes[11] === 0xff) {
    return { ...c, family: 4, bytes: c.bytes.slice(12), prefix: c.prefix - 96 };
  }
  return c;
}

/** The observed source IP ("" when unknown) as an address, IPv4-mapped ones as IPv4; null when unknown or malformed. */
function sourceAddress(ip: string): Cidr | null {
  if (ip === "") return null;
  const parsed = parseCidr(ip);
  return parsed.ok ? ipv4Mapped(parsed.value) : null;
}

/** Both have gone through ipv4Mapped (`block` in compileRule). */
function contains(block: Cidr, a: Cidr): boolean {
  if (a.family !== block.family) return false;
  for (let bit = 0; bit < block.prefix; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((a.bytes[i]! & m) !== (block.bytes[i]! & m)) return false;
  }
  return true;
}

function portMatches(r: CompiledRule, port: number): boolean {
  return r.ports.length === 0 || r.ports.some((p) => p.lo <= port && port <= p.hi);
}

/** The filter's schedule test at the instant the connections' hour started, in the rule's zone. */
function inSchedule(s: NonNullable<CompiledRule["schedule"]>, atMs: number): boolean {
  const localMin = Math.floor(atMs / 60_000) + s.offsetAt(atMs / 1000);
  const m = ((((localMin + 3 * 1440) % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK);
  return s.intervals.some((w) => (w.start <= m && m < w.end) || (w.start <= m + MINUTES_PER_WEEK && m + MINUTES_PER_WEEK < w.end));
}

/** Human text of a what-if result: totals, then by reason, then by source. */
export function whatIfText(r: WhatIfResult): string {
  const n = (c: Count): string => (c.lo === c.hi ? c.lo.toLocaleString("en-US") : `${c.lo.toLocaleString("en-US")}–${c.hi.toLocaleString("en-US")}`);
  const out = [
    `what-if for ${r.workload}: ${r.connections.toLocaleString("en-US")} observed connections against ${r.segments.length ? r.segments.join(", ") : "no segment (every connection denied: no-rule)"}`,
    `would pass: ${n(r.clean)}`,
  ];
  const reasons = Object.entries(r.byReason) as Array<[Reason, Count]>;
  if (reasons.length === 0) {
    out.push("would deny: none");
  } else {
    out.push("would deny, by reason (connections; as audit mode counts them, every reason a connection hits):");
    for (const [reason, c] of reasons.sort(([a], [b]) => (a < b ? -1 : 1))) out.push(`  ${reason.padEnd(20)} ${n(c)}`);
    out.push("by source:");
    for (const [src, byReason] of Object.entries(r.bySource).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const parts = (Object.entries(byReason) as Array<[Reason, Count]>).map(([reason, c]) => `${reason} ${n(c)}`);
      out.push(`  ${src}: ${parts.join(", ")}`);
    }
  }
  for (const note of r.notes) out.push(`note: ${note}`);
  return `${out.join("\n")}\n`;
}
