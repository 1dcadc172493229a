// Byte streams for the fuzzer: random bytes, protocol-looking prefixes, and
// length-prefixed, delimited, Postgres, MQTT or Kafka messages with extreme header values,
// cut into reads of random sizes.
import type { Framing } from "./configs.js";
import { edgyNumber } from "./configs.js";
import type { Rng } from "./prng.js";

const enc = new TextEncoder();

/** First bytes of each protocol picoseg sniffs, from the client unless marked server. */
const CLIENT_PREFIXES: readonly Uint8Array[] = [
  Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03), // TLS ClientHello
  Uint8Array.of(0x16, 0x03, 0x05), // TLS with a version byte past 1.3
  enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
  enc.encode("POST /api HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
  enc.encode("CONNECT "),
  enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  enc.encode("SSH-2.0-OpenSSH_9.6\r\n"),
  Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f), // postgres SSLRequest
  Uint8Array.of(0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2), // CancelRequest
  Uint8Array.of(0, 0, 0, 0x29, 0, 3, 0, 0, ...enc.encode("user\0postgres\0database\0db\0\0")), // StartupMessage v3
  Uint8Array.of(0, 0, 0x27, 0x10, 0, 3, 0, 0), // postgres length at its limit (10000)
  Uint8Array.of(0, 0, 0x27, 0x11, 0, 3, 0, 0), // one past
  enc.encode("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), // RESP
  enc.encode("*1234567890\r\n"), // RESP with too many digits
  enc.encode("*\r\n"),
  Uint8Array.of(0x3a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0), // mongodb OP_MSG header
  Uint8Array.of(0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0, 0xd4, 0x07, 0, 0), // mongodb, huge length
  Uint8Array.of(0x10, 0x17, 0, 4, ...enc.encode("MQTT"), 4, 2, 0, 60, 0, 11, ...enc.encode("sensor-0042")), // MQTT 3.1.1 CONNECT
  Uint8Array.of(0x10, 0x18, 0, 4, ...enc.encode("MQTT"), 5, 2, 0, 60, 0, 0, 11, ...enc.encode("laptop-0042")), // MQTT 5 CONNECT
  Uint8Array.of(0x10, 0xff, 0xff, 0xff, 0xff, 0x01), // MQTT remaining length of five bytes
  enc.encode("AMQP\x00\x00\x09\x01"), // AMQP 0-9-1 protocol header
  Uint8Array.of(0, 0, 0, 0x1c, 0, 0x12, 0, 3, 0, 0, 0, 1, 0, 4, ...enc.encode("meter")), // kafka ApiVersions request
];

const SERVER_PREFIXES: readonly Uint8Array[] = [
  Uint8Array.of(0x4a, 0, 0, 0, 0x0a, ...enc.encode("8.0.36\0")), // mysql greeting
  Uint8Array.of(0x09, 0, 0, 0, 0x0a), // mysql, length too small
  Uint8Array.of(0xff, 0xff, 0xff, 0, 0x0a), // mysql, length too big
  enc.encode("HTTP/1.1 200 OK\r\n\r\n"),
  enc.encode("SSH-2.0-server\r\n"),
  enc.encode("+OK\r\n"),
  enc.encode('INFO {"server_id":"N","max_payload":1048576}\r\n'), // nats
];

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Writes `value` (possibly beyond the width: it is truncated) as a width-byte integer. */
function writeInt(out: Uint8Array, at: number, width: number, big: boolean, value: bigint): void {
  for (let k = 0; k < width; k++) {
    const shift = BigInt(8 * (big ? width - 1 - k : k));
    out[at + k] = Number((value >> shift) & 0xffn);
  }
}

/** Messages under a lengthPrefixed framing, with length fields at and around the edges. */
function lengthPrefixed(rng: Rng, f: Extract<Framing, { type: "lengthPrefixed" }>): Uint8Array {
  const parts: Uint8Array[] = [];
  const offset = Math.min(f.offset, 64); // huge offsets: the stream never reaches the field
  const hdr = offset + f.width;
  const maxValue = (1n << BigInt(8 * f.width)) - 1n;
  for (let i = rng.int(1, 4); i > 0; i--) {
    const r = rng.int(0, 5);
    let value: bigint;
    if (r === 0) value = 0n;
    else if (r === 1) value = maxValue;
    else if (r === 2) value = BigInt(rng.int(0, 64));
    else if (r === 3) value = BigInt(Math.max(0, -f.adjustment + rng.int(-2, 2))); // around the smallest frameable message
    else if (r === 4) value = BigInt(edgyNumber(rng)) & maxValue;
    else value = (BigInt(rng.u32()) << 32n | BigInt(rng.u32())) & maxValue;
    const head = rng.bytes(hdr);
    writeInt(head, offset, f.width, f.big, value);
    parts.push(head);
    // Payload: what the header announces when that is small, else a random amount.
    const announced = Number(BigInt(hdr) + value) + f.adjustment - hdr;
    const body = announced >= 0 && announced <= 200 && rng.chance(0.8) ? announced : rng.size(100);
    parts.push(rng.bytes(body));
  }
  return concat(parts);
}

function delimited(rng: Rng, d: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = rng.int(1, 6); i > 0; i--) {
    parts.push(rng.bytes(rng.size(150)));
    if (rng.chance(0.8)) parts.push(rng.chance(0.85) ? d : d.subarray(0, rng.int(0, d.length)));
  }
  return concat(parts);
}

/** A big-endian uint32. */
function be32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** A length around the edges of what a protocol framing accepts: small, zero, huge, random. */
function edgyLength(rng: Rng): number {
  const r = rng.int(0, 4);
  return r === 0 ? rng.int(0, 64) : r === 1 ? 0 : r === 2 ? 0xffffffff : r === 3 ? rng.int(0, 4) : rng.u32();
}

/** Messages of the protocol framings: postgres (untyped start, typed), mqtt (varint lengths), kafka (int32 sizes). */
function protocolMessages(rng: Rng, type: "postgres" | "mqtt" | "kafka", fromServer: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = rng.int(1, 4); i > 0; i--) {
    const n = rng.chance(0.8) ? rng.int(0, 120) : edgyLength(rng);
    const body = rng.bytes(Math.min(n, 200));
    if (type === "kafka") parts.push(be32(n), body);
    else if (type === "postgres") {
      if (!fromServer && i === 1 && rng.chance(0.5)) parts.push(be32(8 + body.length), be32(rng.pick([196608, 80877103, 80877104, 80877102, 0x00020000])), body);
      else parts.push(Uint8Array.of(rng.int(0x41, 0x5a)), be32(n), body);
    } else {
      const len: number[] = [];
      let v = n;
      do { let b = v % 128; v = Math.floor(v / 128); if (v > 0) b |= 128; len.push(b); } while (v > 0 && len.length < 5);
      parts.push(Uint8Array.of(rng.int(0, 255), ...len), body);
    }
  }
  return concat(parts);
}

/** One direction of one connection: the whole payload it will send. */
export function payload(rng: Rng, fromServer: boolean, framings: readonly Framing[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const r = rng.next();
  if (r < 0.35) {
    const prefixes = fromServer ? SERVER_PREFIXES : CLIENT_PREFIXES;
    const p = rng.pick(prefixes);
    parts.push(rng.chance(0.8) ? p : p.subarray(0, rng.int(0, p.length)));
  }
  if (framings.length > 0 && rng.chance(0.6)) {
    const f = rng.pick(framings);
    if (f.type === "lengthPrefixed") parts.push(lengthPrefixed(rng, f));
    else if (f.type === "delimited") parts.push(delimited(rng, f.delimiter));
    else if (f.type !== "chunk") parts.push(protocolMessages(rng, f.type, fromServer));
  }
  if (parts.length === 0 || rng.chance(0.4)) parts.push(rng.bytes(rng.chance(0.985) ? rng.size(200) : rng.int(1000, 40_000)));
  return concat(parts);
}

/** Cuts a payload into reads: single bytes, small pieces, zero-length reads, or whole. */
export function reads(rng: Rng, data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const style = rng.int(0, 3);
  let i = 0;
  while (i < data.length) {
    let n: number;
    if (style === 0) n = 1;
    else if (style === 1) n = rng.int(1, 16);
    else if (style === 2) n = rng.size(data.length);
    else n = data.length;
    if (n === 0 && rng.chance(0.7)) n = 1;
    out.push(data.subarray(i, i + n));
    i += n;
    if (out.length > 200) { out.push(data.subarray(i)); break; }
  }
  if (out.length === 0 || rng.chance(0.1)) out.push(new Uint8Array(0));
  return out;
}
