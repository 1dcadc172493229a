// Weekly windows evaluated against the compiler's UTC-offset tables: the filter
// needs no time-zone data, and DST is just another row of the table.
import { Config, Rule, Tz } from "./config";

const WEEK_MIN: i64 = 10080;

function floorDiv(a: i64, b: i64): i64 {
  let q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/** UTC offset in minutes at Unix second `t`. */
export function offsetAt(tz: Tz, t: i64): i32 {
  let lo = 0;
  let hi = tz.ats.length; // first index with ats[i] > t
  while (lo < hi) {
    let mid = (lo + hi) >>> 1;
    if (unchecked(tz.ats[mid]) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo == 0 ? tz.base : tz.offs[lo - 1];
}

/** Minute of the local week (Monday 00:00 = 0) at Unix millisecond `ms`. */
export function weekMinute(tz: Tz, ms: i64): i64 {
  let t = floorDiv(ms, 1000);
  let localMin = floorDiv(t, 60) + <i64>offsetAt(tz, t);
  // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
  let day = floorDiv(localMin, 1440);
  let weekday = ((day + 3) % 7 + 7) % 7;
  let minOfDay = localMin - day * 1440;
  return weekday * 1440 + minOfDay;
}

/** Whether the rule's schedule admits the instant; rules without a schedule always do. */
export function ruleInWindow(cfg: Config, r: Rule, ms: i64): bool {
  if (r.tz < 0) return true;
  if (r.tz >= cfg.tzs.length) return false;
  let tz = cfg.tzs[r.tz];
  if (tz === null) return false;
  let m = weekMinute(tz as Tz, ms);
  let w = r.windows;
  for (let i = 0; i + 1 < w.length; i += 2) {
    let s = <i64>w[i];
    let e = <i64>w[i + 1];
    if ((s <= m && m < e) || (s <= m + WEEK_MIN && m + WEEK_MIN < e)) return true;
  }
  return false;
}
