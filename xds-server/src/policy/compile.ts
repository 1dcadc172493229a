// Segments → the filter's configuration string for one workload (filter/CONFIG.md, schema
// version 1). Everything that needs a library or time-zone data happens here; the filter only
// reads numbers and short tokens. Identical inputs give identical strings (the xDS server
// versions configurations by content hash): no timestamps, no map-order dependence, and a
// time-zone horizon that depends on the year only.

import { readAnnotations, tighter, type Tightening } from "./annotations.js";
import { parseCidr } from "./cidr.js";
import { framingText } from "./framing.js";
import { segmentKey } from "./load.js";
import { parsePort } from "./ports.js";
import { parseDuration, parseQuantity, type Parsed } from "./quantity.js";
import { windowIntervals, type WeekInterval } from "./schedule.js";
import { selectSegments } from "./select.js";
import { offsetTable } from "./timezone.js";
import { type CompileOptions, type CompiledConfig, type LoadedSegment, type ReportChannel } from "./types.js";
import { type Workload } from "../../../api/workload.js";
import { DATA_CLASS_LABEL, type Framing, type Mode, type Rule } from "../../../api/picosegment.js";

export const CONFIG_SCHEMA_VERSION = 1;
const DEFAULT_TIMEZONE = "UTC";
/**
 * Years of time-zone transitions from 1 January of the compilation year: three, so that even a
 * configuration compiled on 31 December covers CONFIG.md's "at least the next 400 days".
 */
export const TIMEZONE_HORIZON_YEARS = 3;

/**
 * The configuration of one workload: the segments of its namespace whose selector it matches,
 * merged in namespace/name order, tightened by its annotations. `segments` must be validated
 * (loadPolicyFiles / validatePolicyText); an invalid value throws. The string ends with
 * `end` and a newline.
 */
export function compileForWorkload(segments: readonly LoadedSegment[], workload: Workload, opts: CompileOptions = {}): CompiledConfig {
  const selected = selectSegments(segments, workload);
  const { tightening, warnings } = readAnnotations(workload.annotations);
  const year = (opts.now ?? new Date()).getUTCFullYear();

  const lines: string[] = [`picoseg ${CONFIG_SCHEMA_VERSION}`];
  if (opts.generation !== undefined) lines.push(`generation ${checkedNumber(opts.generation, "generation")}`);
  // Learning mode observes everything; a regulated workload (issue 10's evidence) reports its denials.
  const channel = opts.report ?? DEFAULT_REPORT_CHANNEL;
  if (tightening.learn || selected.some(({ segment }) => segment.spec.learn === true)) lines.push(observeLine(channel));
  else if (regulated(workload, selected)) lines.push(`${observeLine(channel)} denials`);

  // Time-zone tables first: one per distinct zone, numbered in order of first use.
  const zoneIds = new Map<string, number>();
  for (const { segment } of selected) {
    for (const rule of segment.spec.rules ?? []) {
      const zone = rule.schedule ? rule.schedule.timezone ?? DEFAULT_TIMEZONE : undefined;
      if (zone !== undefined && !zoneIds.has(zone)) zoneIds.set(zone, zoneIds.size);
    }
  }
  for (const [zone, id] of zoneIds) {
    const table = offsetTable(zone, year, year + TIMEZONE_HORIZON_YEARS);
    lines.push(["tz", id, table.initial, ...table.transitions.flatMap((t) => [t.at, t.offset])].join(" "));
  }

  const enforcing: string[] = [];
  for (const { segment } of selected) {
    const written: Mode = segment.spec.mode ?? "enforce";
    const mode: Mode = tightening.enforce ? "enforce" : written;
    if (written === "enforce") enforcing.push(segmentKey(segment));
    lines.push(`segment ${segmentKey(segment)} ${mode}`);
    const q = segment.spec.quarantine;
    if (q) lines.push(`quarantine ${q.strikes} ${seconds(q.window)} ${seconds(q.duration)}`);
    for (const rule of segment.spec.rules ?? []) lines.push(...ruleLines(rule, zoneIds, tightening));
  }
  if (tightening.auditRequested && enforcing.length > 0) {
    warnings.push(`annotation picoseg.io/mode: audit ignored for enforcing segment${enforcing.length > 1 ? "s" : ""} ${enforcing.join(", ")} (annotations may only tighten)`);
  }

  lines.push("end");
  return { config: `${lines.join("\n")}\n`, segments: selected.map((s) => segmentKey(s.segment)), warnings };
}

/** The proxy's own xDS cluster in picoseg sidecar bootstraps (xds-server/src/bootstrap/bootstrap.ts XDS_CLUSTER). */
export const DEFAULT_REPORT_CHANNEL: ReportChannel = { cluster: "xds", intervalMs: 5000, capacity: 1024 };

/** A workload that says what data it holds, or that a segment with `compliance` selects (compliance/report.ts). */
function regulated(workload: Workload, selected: readonly LoadedSegment[]): boolean {
  return workload.labels[DATA_CLASS_LABEL] !== undefined || selected.some(({ segment }) => (segment.spec.compliance ?? []).length > 0);
}

function observeLine(r: ReportChannel): string {
  if (!/^[\x21-\x7e]+$/.test(r.cluster)) throw new Error(`report cluster ${JSON.stringify(r.cluster)}: must be printable ASCII without spaces`);
  return `observe ${r.cluster} ${checkedNumber(r.intervalMs, "report interval")} ${checkedNumber(r.capacity, "report capacity")}`;
}

function ruleLines(rule: Rule, zoneIds: ReadonlyMap<string, number>, tightening: Tightening): string[] {
  const parts = ruleParts(rule);
  const out = [...parts.head];
  if (parts.zone !== undefined) out.push(`schedule ${zoneIds.get(parts.zone)}`, ...parts.windows);

  const maxBytesIn = tighter(parts.maxBytesIn, tightening.limits.maxBytesIn);
  const maxBytesOut = tighter(parts.maxBytesOut, tightening.limits.maxBytesOut);
  const maxMessageBytes = tighter(parts.maxMessageBytes, tightening.limits.maxMessageBytes);
  const maxDurationSeconds = tighter(parts.maxDurationSeconds, tightening.limits.maxDurationSeconds);
  if (maxBytesIn !== undefined) out.push(`maxBytesIn ${maxBytesIn}`);
  if (maxBytesOut !== undefined) out.push(`maxBytesOut ${maxBytesOut}`);
  if (maxMessageBytes !== undefined) out.push(`maxMessageBytes ${maxMessageBytes}`);
  // Framing only matters under a message limit, or when MQTT client ids or PUBLISH sizes are read
  // from it; otherwise the filter need not frame at all.
  if (maxMessageBytes !== undefined || parts.readsMqtt) out.push(parts.framing);
  if (parts.maxPublishBytes !== undefined) out.push(`maxPublishBytes ${parts.maxPublishBytes}`);
  if (maxDurationSeconds !== undefined) out.push(`maxDurationSeconds ${maxDurationSeconds}`);
  if (parts.perSource !== undefined) out.push(parts.perSource);
  return out;
}

/**
 * What a rule compiles to whatever the workload: its lines up to `schedule`, its `window` and
 * `perSource` lines, its limits as numbers before annotations tighten them, and its zone (whose
 * id depends on the other segments a workload has).
 */
interface RuleParts {
  head: string[];
  zone: string | undefined;
  windows: string[];
  maxBytesIn: number | undefined;
  maxBytesOut: number | undefined;
  maxMessageBytes: number | undefined;
  maxDurationSeconds: number | undefined;
  framing: string;
  maxPublishBytes: number | undefined;
  /** MQTT client ids or PUBLISH sizes are enforced: the framing line is needed without maxMessageBytes. */
  readsMqtt: boolean;
  perSource?: string;
}

/**
 * The xDS server compiles every connected workload on each policy change, and a rule object
 * lives as long as its file is unchanged: parse its addresses, ports, windows and quantities once
 * per rule, not once per workload. Validated segments are never mutated, so the object is the key.
 */
const partsByRule = new WeakMap<Rule, RuleParts>();

function ruleParts(rule: Rule): RuleParts {
  const cached = partsByRule.get(rule);
  if (cached) return cached;
  const head = [`rule ${rule.name}`];
  for (const p of rule.from?.principals ?? []) head.push(`principal ${p}`);
  for (const block of rule.from?.ipBlocks ?? []) head.push(`ip ${valid(parseCidr(block)).canonical}`);
  for (const block of rule.from?.notIpBlocks ?? []) head.push(`notip ${valid(parseCidr(block)).canonical}`);
  for (const name of rule.from?.serverNames ?? []) head.push(`serverName ${name}`);
  for (const id of rule.from?.mqttClientIds ?? []) head.push(`mqttClientId ${id}`);
  for (const port of rule.ports ?? []) {
    const range = valid(parsePort(port));
    head.push(`port ${range.lo} ${range.hi}`);
  }
  for (const protocol of rule.protocols ?? []) head.push(`protocol ${protocol}`);
  if (rule.protocolDetectionTimeout !== undefined) head.push(`sniffTimeoutMs ${seconds(rule.protocolDetectionTimeout) * 1000}`);

  const zone = rule.schedule ? rule.schedule.timezone ?? DEFAULT_TIMEZONE : undefined;
  const windows = rule.schedule ? weekIntervals(rule).map((w) => `window ${w.start} ${w.end}`) : [];

  const limits = rule.limits ?? {};
  const bytes = (q: number | string | undefined): number | undefined => (q === undefined ? undefined : valid(parseQuantity(q)));
  const parts: RuleParts = {
    head,
    zone,
    windows,
    maxBytesIn: bytes(limits.maxBytesIn),
    maxBytesOut: bytes(limits.maxBytesOut),
    maxMessageBytes: bytes(limits.maxMessageBytes),
    maxDurationSeconds: limits.maxDurationSeconds,
    framing: framingLine(limits.framing ?? { type: "chunk" }),
    maxPublishBytes: bytes(limits.maxPublishBytes),
    readsMqtt: (rule.from?.mqttClientIds ?? []).length > 0 || limits.maxPublishBytes !== undefined,
  };
  const ps = rule.perSource;
  if (ps) {
    const orDash = (n: number | undefined): string => (n === undefined ? "-" : String(n));
    parts.perSource = `perSource ${seconds(ps.window)} ${orDash(bytes(ps.maxBytes))} ${orDash(ps.maxConnections)} ${orDash(ps.maxDistinctPorts)}` +
      (ps.maxSources === undefined ? "" : ` ${ps.maxSources}`);
  }
  partsByRule.set(rule, parts);
  return parts;
}

/** The rule's windows as week intervals, sorted and without repeats (the order does not matter to the filter). */
function weekIntervals(rule: Rule): WeekInterval[] {
  const all = (rule.schedule?.windows ?? []).flatMap(windowIntervals);
  all.sort((a, b) => a.start - b.start || a.end - b.end);
  return all.filter((w, i) => i === 0 || w.start !== all[i - 1]?.start || w.end !== all[i - 1]?.end);
}

function framingLine(framing: Framing): string {
  return `framing ${framingText(framing)}`;
}

function seconds(duration: string): number {
  return valid(parseDuration(duration));
}

function checkedNumber(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

/** Compilation trusts validation; a value that does not parse here is a caller's bug. */
function valid<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new Error(`compileForWorkload: unvalidated segment: ${parsed.message}`);
  return parsed.value;
}
