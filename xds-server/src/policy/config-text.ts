// The filter's configuration (filter/CONFIG.md) read back into a structure a person reads:
// what `picoseg proxy-config` shows of the configuration a proxy holds. Lines are grouped under
// their segment and rule; windows are written as local days and times; everything else is kept
// as the filter reads it (bytes and seconds as integers).
import { DAYS } from "../../../api/picosegment.js";
import { MINUTES_PER_DAY, MINUTES_PER_WEEK } from "./schedule.js";

export interface DecodedRule {
  rule: string;
  /** Each key of the rule's lines, in order; a repeated key (port, principal, window) is a list. */
  [key: string]: string | string[];
}

export interface DecodedSegment {
  segment: string;
  mode: string;
  settings: Record<string, string | string[]>;
  rules: DecodedRule[];
}

export interface DecodedConfig {
  /** The header: format version, generation, observe, time-zone tables. */
  header: Record<string, string | string[]>;
  segments: DecodedSegment[];
}

/** "Mon 08:00" from a minute of the local week (Monday 00:00 = 0; past 10080 is next week's). */
function weekMinute(m: number): string {
  const w = ((m % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  const day = DAYS[Math.floor(w / MINUTES_PER_DAY)] ?? "?";
  const minute = w % MINUTES_PER_DAY;
  return `${day} ${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

function add(into: Record<string, string | string[]>, key: string, value: string): void {
  const had = into[key];
  if (had === undefined) into[key] = value;
  else into[key] = Array.isArray(had) ? [...had, value] : [had, value];
}

export function decodeConfig(config: string): DecodedConfig {
  const out: DecodedConfig = { header: {}, segments: [] };
  let segment: DecodedSegment | undefined;
  let rule: DecodedRule | undefined;
  for (const line of config.split("\n")) {
    if (line === "" || line === "end") continue;
    const space = line.indexOf(" ");
    const key = space < 0 ? line : line.slice(0, space);
    let value = space < 0 ? "" : line.slice(space + 1);
    if (key === "segment") {
      const [name = "", mode = ""] = value.split(" ");
      segment = { segment: name, mode, settings: {}, rules: [] };
      out.segments.push(segment);
      rule = undefined;
      continue;
    }
    if (key === "rule" && segment) {
      rule = { rule: value };
      segment.rules.push(rule);
      continue;
    }
    if (key === "window") {
      const [start, end] = value.split(" ").map(Number) as [number, number];
      value = `${weekMinute(start)}–${weekMinute(end)}`;
    }
    if (key === "tz") {
      const [zone, , ...changes] = value.split(" "); // tz ID OFFSET (INSTANT OFFSET)*
      value = `zone ${zone}: ${changes.length / 2} offset changes`;
    }
    add(rule ?? segment?.settings ?? out.header, key, value);
  }
  return out;
}
