// Quantities ("64Ki", 1048576) and durations ("90s", "10m") as written in segments and
// annotations, turned into the plain numbers the filter reads (bytes, seconds).

/** Binary suffixes only, as Kubernetes writes memory: 10Mi = 10 × 2^20. */
const QUANTITY_SUFFIXES: Record<string, number> = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The largest number the configuration format carries (CONFIG.md: at most 2^53). */
export const MAX_CONFIG_NUMBER = Number.MAX_SAFE_INTEGER;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const QUANTITY_HINT = "a non-negative integer number of bytes, optionally with suffix Ki, Mi, Gi or Ti (e.g. 65536, 64Ki, 10Mi)";

/** Bytes from a quantity: a non-negative integer, or a string of digits with an optional Ki/Mi/Gi/Ti suffix. */
export function parseQuantity(input: unknown): Parsed<number> {
  if (typeof input === "number") {
    if (!Number.isInteger(input) || input < 0) return { ok: false, message: `${input} is not ${QUANTITY_HINT}` };
    return withinRange(input, String(input));
  }
  if (typeof input !== "string") return { ok: false, message: `must be ${QUANTITY_HINT}` };
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti)?$/.exec(input);
  if (!m) return { ok: false, message: `${JSON.stringify(input)} is not ${QUANTITY_HINT}` };
  const multiplier = QUANTITY_SUFFIXES[m[2] ?? ""] ?? 1;
  return withinRange(Number(m[1]) * multiplier, JSON.stringify(input));
}

/** Seconds from a duration: a positive integer followed by s, m, h or d ("90s", "10m", "1h", "1d"). */
export function parseDuration(input: unknown): Parsed<number> {
  const hint = "a positive duration: an integer followed by s, m, h or d (e.g. 90s, 10m, 1h, 1d)";
  if (typeof input !== "string") return { ok: false, message: `must be ${hint}` };
  const m = /^([0-9]+)([smhd])$/.exec(input);
  if (!m) return { ok: false, message: `${JSON.stringify(input)} is not ${hint}` };
  const seconds = Number(m[1]) * (DURATION_UNITS[m[2] ?? "s"] ?? 1);
  if (seconds === 0) return { ok: false, message: `${JSON.stringify(input)} is not ${hint}` };
  return withinRange(seconds, JSON.stringify(input));
}

/** A positive integer written as digits (annotation values such as picoseg.io/max-duration-seconds). */
export function parsePositiveIntegerText(input: string): Parsed<number> {
  if (!/^[0-9]+$/.test(input) || Number(input) === 0) {
    return { ok: false, message: `${JSON.stringify(input)} is not a positive integer` };
  }
  return withinRange(Number(input), JSON.stringify(input));
}

function withinRange(value: number, shown: string): Parsed<number> {
  if (!Number.isSafeInteger(value)) return { ok: false, message: `${shown} is too large (at most 2^53 - 1)` };
  return { ok: true, value };
}
