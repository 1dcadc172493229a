// Shared vocabulary of the filter's unit tests.
import { FilterHost, type StartOptions } from "../../testkit/filter-host/index.js";

/** A configuration string: header, the given lines, `end`. */
export function config(...lines: string[]): string {
  return ["picoseg 1", ...lines, "end", ""].join("\n");
}

/** One enforcing segment with one rule made of `ruleLines`. */
export function oneRule(...ruleLines: string[]): string {
  return config("segment ns/seg enforce", "rule r", ...ruleLines);
}

export async function hostWith(cfg: string | null, opts: Omit<StartOptions, "config"> = {}): Promise<FilterHost> {
  return FilterHost.start({ ...opts, config: cfg });
}

/** Postgres SSLRequest: length 8, code 80877103. */
export const PG_SSL_REQUEST = Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f);

export function bytes(n: number, fill = 0x61): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

/** A big-endian length-prefixed frame under `framing lengthPrefixed 1 4 big -4` (Postgres messages): type byte, int32 length including itself, payload. */
export function pgMessage(payloadLen: number, type = 0x51): Uint8Array {
  const m = new Uint8Array(1 + 4 + payloadLen);
  m[0] = type;
  new DataView(m.buffer).setUint32(1, 4 + payloadLen, false);
  m.fill(0x78, 5);
  return m;
}

export const MONDAY_NOON_UTC = Date.UTC(2026, 0, 5, 12, 0, 0);
