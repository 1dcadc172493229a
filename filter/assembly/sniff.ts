// Protocol sniffing on the first bytes of the stream that speaks first.
// Each recogniser answers MATCH, NO or MORE (needs more bytes) and rejects as
// early as it can, so a decision usually comes within the first few bytes.
// Pure: the bytes come through a ByteView. A new protocol: its P_* number and name below
// (before P_UNKNOWN), a recogniser and its branch in sniff(), and tests in
// test/filter/stages/sniff.test.ts; config.ts and the policy side learn it by name.
import { ByteView } from "./byteview";
import { sniffKafka } from "./wire/kafka";
import { sniffMqtt } from "./wire/mqtt";
import { sniffAmqp, sniffNats } from "./wire/signatures";

export const P_TLS: i32 = 0;
export const P_HTTP1: i32 = 1;
export const P_HTTP2: i32 = 2;
export const P_SSH: i32 = 3;
export const P_POSTGRES: i32 = 4;
export const P_MYSQL: i32 = 5;
export const P_REDIS: i32 = 6;
export const P_MONGODB: i32 = 7;
export const P_MQTT: i32 = 8;
export const P_AMQP: i32 = 9;
export const P_KAFKA: i32 = 10;
export const P_NATS: i32 = 11;
export const P_UNKNOWN: i32 = 12;
export const P_UNDECIDED: i32 = -1;

export const SNIFF_LIMIT: u32 = 64;

const PROTOCOL_NAMES: StaticArray<string> = [
  "tls", "http1", "http2", "ssh", "postgres", "mysql", "redis", "mongodb", "mqtt", "amqp", "kafka", "nats", "unknown",
];

export function protocolName(p: i32): string {
  if (p < 0 || p > P_UNKNOWN) return "";
  return PROTOCOL_NAMES[p];
}

/** Protocol number of a config token, -1 when unknown. */
export function protocolByName(name: string): i32 {
  for (let i = 0; i <= P_UNKNOWN; i++) if (PROTOCOL_NAMES[i] == name) return i;
  return -1;
}

const NO: i32 = 0;
const MATCH: i32 = 1;
const MORE: i32 = 2;

function lit(p: usize, len: usize, s: string): i32 {
  let n = s.length;
  let m = len < <usize>n ? <i32>len : n;
  for (let i = 0; i < m; i++) {
    if (<i32>load<u8>(p + i) != s.charCodeAt(i)) return NO;
  }
  return len >= <usize>n ? MATCH : MORE;
}

const HTTP1_METHODS: StaticArray<string> = [
  "GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
];

function http1(p: usize, len: usize, fromServer: bool): i32 {
  if (fromServer) return lit(p, len, "HTTP/1.");
  let r = NO;
  for (let i = 0; i < HTTP1_METHODS.length; i++) {
    let s = lit(p, len, HTTP1_METHODS[i]);
    if (s == MATCH) return MATCH;
    if (s == MORE) r = MORE;
  }
  return r;
}

function tls(p: usize, len: usize): i32 {
  // record type handshake (22), version major 3, minor 0..4
  if (len >= 1 && load<u8>(p) != 0x16) return NO;
  if (len >= 2 && load<u8>(p + 1) != 0x03) return NO;
  if (len >= 3) return load<u8>(p + 2) <= 0x04 ? MATCH : NO;
  return MORE;
}

function be32(p: usize): u32 {
  return (<u32>load<u8>(p) << 24) | (<u32>load<u8>(p + 1) << 16) | (<u32>load<u8>(p + 2) << 8) | <u32>load<u8>(p + 3);
}
function le32(p: usize): u32 {
  return (<u32>load<u8>(p + 3) << 24) | (<u32>load<u8>(p + 2) << 16) | (<u32>load<u8>(p + 1) << 8) | <u32>load<u8>(p);
}

function postgres(p: usize, len: usize): i32 {
  // Int32 length (big endian, 8..10000) then a protocol or request code.
  if (len >= 1 && load<u8>(p) != 0) return NO;
  if (len >= 2 && load<u8>(p + 1) != 0) return NO;
  if (len < 4) return MORE;
  let l = be32(p);
  if (l < 8 || l > 10000) return NO;
  if (len < 8) return MORE;
  let code = be32(p + 4);
  if (l == 8 && (code == 80877103 || code == 80877104)) return MATCH; // SSLRequest, GSSENCRequest
  if (l == 16 && code == 80877102) return MATCH; // CancelRequest
  if (code == 196608 && l > 8) return MATCH; // StartupMessage v3.0
  return NO;
}

function mysqlGreeting(p: usize, len: usize): i32 {
  // 3-byte little-endian payload length, sequence id 0, protocol version 10.
  if (len < 3) return MORE;
  let l = <u32>load<u8>(p) | (<u32>load<u8>(p + 1) << 8) | (<u32>load<u8>(p + 2) << 16);
  if (l < 10 || l > 16384) return NO;
  if (len < 4) return MORE;
  if (load<u8>(p + 3) != 0) return NO;
  if (len < 5) return MORE;
  return load<u8>(p + 4) == 0x0a ? MATCH : NO;
}

function redis(p: usize, len: usize): i32 {
  // RESP array of bulk strings: "*<1-9 digits>\r\n"
  if (len < 1) return MORE;
  if (load<u8>(p) != 42) return NO;
  let i: usize = 1;
  while (i < len && i <= 10) {
    let c = load<u8>(p + i);
    if (c >= 48 && c <= 57) { i++; continue; }
    if (c != 13 || i == 1) return NO;
    if (i + 1 >= len) return MORE;
    return load<u8>(p + i + 1) == 10 ? MATCH : NO;
  }
  return i > 10 ? NO : MORE;
}

function mongodb(p: usize, len: usize): i32 {
  // 16-byte wire header: length, requestID, responseTo (0 for requests), opCode (little endian).
  if (len < 4) return MORE;
  let l = le32(p);
  if (l < 16 || l > 48000000) return NO;
  if (len < 12) return MORE;
  if (le32(p + 8) != 0) return NO;
  if (len < 16) return MORE;
  let op = le32(p + 12);
  if (op == 2013 || op == 2004 || op == 2012 || op == 2001 || op == 2002 || op == 2005 || op == 2006 || op == 2007) return MATCH;
  return NO;
}

/**
 * Decides the protocol of the stream that spoke first, given its first `len`
 * bytes. `final` (64 bytes seen or end of stream) turns every pending answer into NO.
 * Returns a protocol number or P_UNDECIDED.
 */
export function sniff(p: usize, len: usize, fromServer: bool, final: bool): i32 {
  let found = P_UNDECIDED;
  let pending = false;
  for (let proto = 0; proto < P_UNKNOWN; proto++) {
    let r = NO;
    if (proto == P_TLS) r = fromServer ? NO : tls(p, len);
    else if (proto == P_HTTP1) r = http1(p, len, fromServer);
    else if (proto == P_HTTP2) r = fromServer ? NO : lit(p, len, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    else if (proto == P_SSH) r = lit(p, len, "SSH-");
    else if (proto == P_POSTGRES) r = fromServer ? NO : postgres(p, len);
    else if (proto == P_MYSQL) r = fromServer ? mysqlGreeting(p, len) : NO;
    else if (proto == P_REDIS) r = fromServer ? NO : redis(p, len);
    else if (proto == P_MONGODB) r = fromServer ? NO : mongodb(p, len);
    // The messaging signatures answer with the same NO / MATCH / MORE (wire/signatures.ts).
    else if (proto == P_MQTT) r = fromServer ? NO : sniffMqtt(p, len);
    else if (proto == P_AMQP) r = fromServer ? NO : sniffAmqp(p, len);
    else if (proto == P_KAFKA) r = fromServer ? NO : sniffKafka(p, len);
    else if (proto == P_NATS) r = fromServer ? sniffNats(p, len) : NO;
    if (r == MATCH && found == P_UNDECIDED) found = proto;
    if (r == MORE) pending = true;
  }
  if (pending && !final) return P_UNDECIDED;
  return found == P_UNDECIDED ? P_UNKNOWN : found;
}

/**
 * The protocol of the first bytes (at most SNIFF_LIMIT) of a buffer holding `size` bytes:
 * P_UNDECIDED while more bytes could still decide it, P_UNKNOWN when they cannot be read.
 */
export function sniffView(view: ByteView, size: u32, fromServer: bool, end: bool): i32 {
  let n = size < SNIFF_LIMIT ? size : SNIFF_LIMIT;
  let final = size >= SNIFF_LIMIT || end;
  if (!view.fill(view, 0, n)) return P_UNKNOWN;
  let proto = sniff(view.ptr, view.len, fromServer, final || view.len < <usize>n);
  view.release(view);
  return proto;
}
