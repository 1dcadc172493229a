// The server name (SNI) of a TLS ClientHello, for `serverNames` in front of a TLS-passthrough
// workload (RFC 8446 §4.1.2, RFC 6066 §3). Only the first record is read: a ClientHello whose
// server_name extension is not in it has no name here (and matches no `serverNames`).
import { be16 } from "./cursor";

/** Outcomes of tlsServerName. */
export const SNI_MORE: i32 = -1;      // the first record is not complete yet
export const SNI_NONE: i32 = -2;      // a ClientHello without a (host_name) server name
export const SNI_MALFORMED: i32 = -3; // not a TLS ClientHello, or one that does not parse

/** Longest record read for a name: a ClientHello fits in one TLS record (2^14 bytes). */
export const SNI_RECORD_MAX: u32 = 5 + 16384;

/** Set by tlsServerName when it returns ≥ 0: where the name starts in the view. */
export var sniOffset: usize = 0;

/**
 * The server name of the ClientHello at the start of the view [p, p+len): its length
 * (sniOffset says where it is), or SNI_MORE / SNI_NONE / SNI_MALFORMED.
 */
export function tlsServerName(p: usize, len: usize): i32 {
  if (len < 5) return SNI_MORE;
  if (load<u8>(p) != 0x16 || load<u8>(p + 1) != 3) return SNI_MALFORMED;
  let recLen = <usize>be16(p + 3);
  if (len < <usize>5 + recLen) return SNI_MORE;
  let end: usize = 5 + recLen;
  let i: usize = 5;
  if (i + 4 > end || load<u8>(p + i) != 1) return SNI_MALFORMED; // handshake type client_hello
  i += 4 + 2 + 32; // handshake header, legacy_version, random
  if (i + 1 > end) return SNI_MALFORMED;
  i += 1 + <usize>load<u8>(p + i); // legacy_session_id
  if (i + 2 > end) return SNI_MALFORMED;
  i += 2 + <usize>be16(p + i); // cipher_suites
  if (i + 1 > end) return SNI_MALFORMED;
  i += 1 + <usize>load<u8>(p + i); // legacy_compression_methods
  if (i == end) return SNI_NONE; // no extensions
  if (i + 2 > end) return SNI_MALFORMED;
  let extEnd = i + 2 + <usize>be16(p + i);
  if (extEnd > end) return SNI_NONE; // extensions run on into a second record: not read here
  i += 2;
  while (i + 4 <= extEnd) {
    let type = be16(p + i);
    let n = <usize>be16(p + i + 2);
    i += 4;
    if (i + n > extEnd) return SNI_MALFORMED;
    if (type == 0) return serverNameList(p, i, i + n);
    i += n;
  }
  return SNI_NONE;
}

/** The server_name extension's list: the first host_name (type 0) entry. */
function serverNameList(p: usize, start: usize, end: usize): i32 {
  if (start + 2 > end) return SNI_MALFORMED;
  let listEnd = start + 2 + <usize>be16(p + start);
  if (listEnd > end) return SNI_MALFORMED;
  let i = start + 2;
  while (i + 3 <= listEnd) {
    let type = load<u8>(p + i);
    let n = <usize>be16(p + i + 1);
    i += 3;
    if (i + n > listEnd) return SNI_MALFORMED;
    if (type == 0) {
      if (n == 0 || n > 255) return SNI_MALFORMED;
      sniOffset = i;
      return <i32>n;
    }
    i += n;
  }
  return SNI_NONE;
}

/**
 * A server name against one pattern as Envoy's `server_names` reads it: exact (ASCII case
 * ignored), or `*.example.com`, which matches any name ending in `.example.com` but not
 * `example.com` itself. `name` is the bytes [p, p+len).
 */
export function serverNameMatches(pattern: string, p: usize, len: usize): bool {
  let n = <usize>pattern.length;
  let wildcard = n >= 2 && pattern.charCodeAt(0) == 42 && pattern.charCodeAt(1) == 46;
  if (!wildcard) return n == len && sameLower(pattern, 0, p, len);
  let suffix = n - 1; // ".example.com"
  if (len <= suffix) return false;
  return sameLower(pattern, 1, p + (len - suffix), suffix);
}

function lower(c: u32): u32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function sameLower(pattern: string, from: usize, p: usize, len: usize): bool {
  for (let k: usize = 0; k < len; k++) {
    if (lower(<u32>pattern.charCodeAt(<i32>(from + k))) != lower(<u32>load<u8>(p + k))) return false;
  }
  return true;
}
