// Destination ports as written in rules: 5432, or "8000-8100" (inclusive), or "5432".

import type { Parsed } from "./quantity.js";

export interface PortRange {
  lo: number;
  hi: number;
}

const PORT_HINT = "a port from 1 to 65535 or a range \"LO-HI\"";

export function parsePort(input: unknown): Parsed<PortRange> {
  if (typeof input === "number") {
    if (!Number.isInteger(input) || input < 1 || input > 65535) return { ok: false, message: `${input} is not ${PORT_HINT}` };
    return { ok: true, value: { lo: input, hi: input } };
  }
  if (typeof input !== "string") return { ok: false, message: `must be ${PORT_HINT}` };
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(input);
  if (!m) return { ok: false, message: `${JSON.stringify(input)} is not ${PORT_HINT}` };
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535) {
    return { ok: false, message: `${JSON.stringify(input)}: ports must be from 1 to 65535` };
  }
  if (lo > hi) return { ok: false, message: `${JSON.stringify(input)}: range start ${lo} is above its end ${hi}` };
  return { ok: true, value: { lo, hi } };
}
