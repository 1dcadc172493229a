// Message framing for `limits.maxMessageBytes` (DESIGN.md): which parameters each framing
// type takes, and the delimiter as the hex the filter reads.

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
