// IANA time zones, checked and compiled with the time-zone data built into Node (Intl), into
// the UTC-offset tables the filter evaluates without any zone data of its own (CONFIG.md `tz`).

import type { Parsed } from "./quantity.js";

const SUPPORTED = new Set(Intl.supportedValuesOf("timeZone"));

/**
 * Accepts the zones Intl lists, plus the names Intl.DateTimeFormat accepts as aliases ("UTC",
 * "Etc/UTC", "US/Eastern"). Offsets such as "+01:00" are not IANA names and are refused; a
 * name that only differs from a real one in case is refused with the right spelling, because
 * other consumers (the Kubernetes CRD, Go's time package) are case-sensitive.
 */
export function checkTimeZone(name: string): Parsed<string> {
  if (SUPPORTED.has(name)) return { ok: true, value: name };
  const bad = { ok: false as const, message: `${JSON.stringify(name)} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)` };
  if (!/^[A-Za-z]/.test(name)) return bad;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return bad;
  }
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) {
    return { ok: false, message: `${JSON.stringify(name)} must be written ${JSON.stringify(resolved)}` };
  }
  return { ok: true, value: name };
}

/** A zone's offsets over a horizon: `initial` before the first transition, then each change. */
export interface OffsetTable {
  /** UTC offset in minutes (east positive) at the start of the horizon. */
  initial: number;
  /** From Unix second `at` on, the offset is `offset` minutes. Increasing `at`. */
  transitions: Array<{ at: number; offset: number }>;
}

const HOUR = 3600;
const tableCache = new Map<string, OffsetTable>();

/**
 * The offset table of `zone` from 1 January `fromYear` 00:00 UTC to 1 January `toYear`
 * 00:00 UTC. The horizon depends on years only, so a table is identical for every compilation
 * within a year (the xDS server hashes the output). Transitions are found by scanning hour by
 * hour and narrowing each change to the second by bisection; zones change offset on minute
 * boundaries and never twice within an hour.
 */
export function offsetTable(zone: string, fromYear: number, toYear: number): OffsetTable {
  const key = `${zone} ${fromYear} ${toYear}`;
  const cached = tableCache.get(key);
  if (cached) return cached;
  const offsetAt = offsetFunction(zone);
  const start = Date.UTC(fromYear, 0, 1) / 1000;
  const end = Date.UTC(toYear, 0, 1) / 1000;
  const initial = offsetAt(start);
  const transitions: OffsetTable["transitions"] = [];
  let previous = initial;
  for (let t = start; t < end; t += HOUR) {
    const next = Math.min(t + HOUR, end);
    const offset = offsetAt(next);
    if (offset === previous) continue;
    // offsetAt(lo) === previous, offsetAt(hi) === offset: find the first second of the new offset.
    let lo = t;
    let hi = next;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (offsetAt(mid) === previous) lo = mid;
      else hi = mid;
    }
    if (hi < end) transitions.push({ at: hi, offset });
    previous = offset;
  }
  const table = { initial, transitions };
  tableCache.set(key, table);
  return table;
}

/** The UTC offset in minutes of `zone` at a Unix second. */
export function offsetFunction(zone: string): (unixSeconds: number) => number {
  const format = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
  // format() ("6/15/2026, GMT+02:00") costs half of formatToParts(), and this runs ~26,000
  // times per zone and horizon.
  return (unixSeconds) => parseGmtOffset(format.format(unixSeconds * 1000));
}

/** "…GMT" → 0, "…GMT+05:30" → 330, "…GMT-03:00" → -180 (seconds, in historical LMT offsets, are rounded). */
function parseGmtOffset(name: string): number {
  const m = /GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$/.exec(name);
  if (!m) throw new Error(`unexpected time zone offset name ${JSON.stringify(name)}`);
  if (m[1] === undefined) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0) + Math.round(Number(m[4] ?? 0) / 60);
  return m[1] === "-" ? -minutes : minutes;
}
