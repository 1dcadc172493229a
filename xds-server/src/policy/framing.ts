// Message framing for `limits.maxMessageBytes` (docs/design.md): which parameters each framing
// type takes, and the delimiter as the hex the filter reads.
import type { Framing } from "../../../api/picosegment.js";

export const FRAMING_FIELDS = {
  chunk: [],
  lengthPrefixed: ["offset", "width", "endian", "adjustment"],
  delimited: ["delimiter"],
  postgres: [],
  mqtt: [],
  kafka: [],
} as const satisfies Record<string, readonly string[]>;

export type FramingType = keyof typeof FRAMING_FIELDS;

/**
 * The delimiter's bytes: the string as YAML decoded it (so "\n" and "\r\n" written in double
 * quotes are the real control bytes), encoded as UTF-8.
 */
export function delimiterBytes(delimiter: string): Uint8Array {
  return new TextEncoder().encode(delimiter);
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A framing as the filter's `framing` line writes it, without the keyword (filter/CONFIG.md):
 * "chunk", "lengthPrefixed 1 4 big -4", "delimited 0d0a", "postgres". One text per framing, with
 * defaults filled in, so two framings are the same exactly when their texts are.
 */
export function framingText(f: Framing): string {
  switch (f.type) {
    case "chunk":
      return "chunk";
    case "lengthPrefixed":
      return `lengthPrefixed ${f.offset ?? 0} ${f.width} ${f.endian ?? "big"} ${f.adjustment ?? 0}`;
    case "delimited":
      return `delimited ${toHex(delimiterBytes(f.delimiter))}`;
    case "postgres":
    case "mqtt":
    case "kafka":
      return f.type;
  }
}

const FRAMING_TEXT = /^(?:(chunk|postgres|mqtt|kafka)|lengthPrefixed (\d{1,15}) ([1248]) (big|little) (-?\d{1,15})|delimited ((?:[0-9a-f]{2}){1,4}))$/;

/** The framing a text of framingText() names; undefined when it names none. */
export function parseFramingText(text: string): Framing | undefined {
  const m = FRAMING_TEXT.exec(text);
  if (!m) return undefined;
  const [, plain, offset, width, endian, adjustment, hex] = m;
  if (plain !== undefined) return { type: plain as "chunk" | "postgres" | "mqtt" | "kafka" };
  if (hex !== undefined) {
    const bytes = Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
    try {
      // A policy's delimiter is a string: its bytes are UTF-8.
      return { type: "delimited", delimiter: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
    } catch {
      return undefined;
    }
  }
  return {
    type: "lengthPrefixed",
    offset: Number(offset),
    width: Number(width) as 1 | 2 | 4 | 8,
    endian: endian as "big" | "little",
    adjustment: Number(adjustment),
  };
}
