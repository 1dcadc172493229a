// Address blocks for `from.ipBlocks` / `from.notIpBlocks`: IPv4 and IPv6 CIDRs parsed by hand
// (Node has no CIDR parser), checked for host bits, and printed in one canonical form so that
// identical policies compile to identical strings.

import type { Parsed } from "./quantity.js";

export interface Cidr {
  family: 4 | 6;
  bytes: number[]; // 4 or 16 bytes, host bits zero
  prefix: number;
  /** `10.1.0.0/16`, `2001:db8::/32`: lowercase, RFC 5952 zero compression, no embedded IPv4. */
  canonical: string;
}

/**
 * Parses `ADDR/LEN`; a bare address stands for a single host (/32 or /128), as in Istio's
 * ipBlocks. Set host bits are refused (naming the block that was probably meant) rather than
 * silently cleared: `10.1.2.3/16` is more often a typo than an intent.
 */
export function parseCidr(input: string): Parsed<Cidr> {
  const slash = input.indexOf("/");
  const addressText = slash < 0 ? input : input.slice(0, slash);
  const bytes = addressText.includes(":") ? parseIPv6(addressText) : parseIPv4(addressText);
  if (!bytes) return { ok: false, message: `${JSON.stringify(input)}: ${JSON.stringify(addressText)} is not an IPv4 or IPv6 address` };
  const family = bytes.length === 4 ? 4 : 6;
  const maxPrefix = bytes.length * 8;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const lenText = input.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > maxPrefix) {
      return { ok: false, message: `${JSON.stringify(input)}: prefix length must be an integer from 0 to ${maxPrefix}` };
    }
    prefix = Number(lenText);
  }
  const masked = bytes.map((b, i) => b & maskByte(prefix - i * 8));
  const canonical = `${family === 4 ? formatIPv4(masked) : formatIPv6(masked)}/${prefix}`;
  if (masked.some((b, i) => b !== bytes[i])) {
    return { ok: false, message: `${JSON.stringify(input)}: host bits are set after the /${prefix} prefix (did you mean ${canonical}?)` };
  }
  return { ok: true, value: { family, bytes: masked, prefix, canonical } };
}

function maskByte(bitsInThisByte: number): number {
  if (bitsInThisByte >= 8) return 0xff;
  if (bitsInThisByte <= 0) return 0;
  return (0xff << (8 - bitsInThisByte)) & 0xff;
}

function parseIPv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return null;
    bytes.push(Number(part));
  }
  return bytes;
}

function parseIPv6(text: string): number[] | null {
  if (text.includes("%")) return null; // zone ids have no meaning in a policy
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? "";
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece); // trailing embedded IPv4, e.g. ::ffff:10.0.0.1
        if (!v4) return null;
        groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (!head || !tail) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatIPv4(bytes: number[]): string {
  return bytes.join(".");
}

/** RFC 5952: lowercase hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatIPv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
