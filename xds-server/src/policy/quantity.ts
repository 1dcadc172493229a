// Quantities ("64Ki", "10M", 1048576) and durations ("90s", "10m") as written in segments and
// annotations, turned into the plain numbers the filter reads (bytes, seconds).
import { Decimal } from "decimal.js";
import schema from "../../../api/picosegment.schema.json" with { type: "json" };

/**
 * Kubernetes' resource.Quantity grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go):
 * a signed decimal number, then a binary suffix (Ki…Ei), a decimal one (m, k, M, G, T, P, E) or
 * an exponent (e3, E-2). The JSON Schema carries the same pattern, so the CRD and the API
 * server refuse what this refuses.
 */
export const QUANTITY_PATTERN: string = (schema as { definitions: { quantity: { anyOf: Array<{ pattern?: string }> } } }).definitions.quantity.anyOf.find(
  (b) => b.pattern !== undefined,
)!.pattern!;
const QUANTITY = new RegExp(QUANTITY_PATTERN);
const SUFFIX_BASE: Record<string, [base: number, power: number]> = {
  "": [10, 0], m: [10, -3], k: [10, 3], M: [10, 6], G: [10, 9], T: [10, 12], P: [10, 15], E: [10, 18],
  Ki: [2, 10], Mi: [2, 20], Gi: [2, 30], Ti: [2, 40], Pi: [2, 50], Ei: [2, 60],
};
// Exact decimal arithmetic, so that 0.3k is 300 and 1.1Ki is 1127 (1126.4 rounded up), never a float's neighbour.
const Exact = Decimal.clone({ precision: 1000 });
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The largest number the configuration format carries (CONFIG.md: at most 2^53). */
export const MAX_CONFIG_NUMBER = Number.MAX_SAFE_INTEGER;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const QUANTITY_HINT = "a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi)";

/**
 * Bytes from a quantity, with a Kubernetes Quantity's meaning: a non-negative integer, or a
 * string in Kubernetes' quantity grammar. A fraction of a byte is rounded up, as
 * Quantity.Value() does ("1.1Ki" is 1127, "500m" is 1); a negative quantity is refused.
 */
export function parseQuantity(input: unknown): Parsed<number> {
  if (typeof input === "number") {
    if (!Number.isInteger(input) || input < 0) return { ok: false, message: `${input} is not ${QUANTITY_HINT}` };
    return withinRange(input, String(input));
  }
  if (typeof input !== "string") return { ok: false, message: `must be ${QUANTITY_HINT}` };
  const m = QUANTITY.exec(input);
  if (!m || input === "" || input.length > 100) return { ok: false, message: `${JSON.stringify(input)} is not ${QUANTITY_HINT}` };
  // As apimachinery reads it, a number without digits ("Mi", ".", "-") is zero.
  const number = /[0-9]/.test(m[1]!) ? m[1]!.replace(/^\+/, "") : "0";
  const suffix = m[2] ?? "";
  // "E" and "Ei" are suffixes (exa, exbi); "e3", "E-2" are exponents.
  const exponent = SUFFIX_BASE[suffix] ?? [10, Number(suffix.slice(1))];
  const value = new Exact(number).times(new Exact(exponent[0]!).pow(exponent[1]!));
  if (value.isNegative() && !value.isZero()) return { ok: false, message: `${JSON.stringify(input)} is negative; a number of bytes is at least 0` };
  if (value.greaterThan(MAX_CONFIG_NUMBER)) return { ok: false, message: `${JSON.stringify(input)} is too large (at most 2^53 - 1)` };
  return { ok: true, value: Math.max(0, value.ceil().toNumber()) }; // "-0" is 0, not -0
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
