// A framing cursor over one direction of a stream: header bytes are gathered (they may be
// split across reads in any way) and judged by the protocol's step function; payload bytes
// are only counted, never read. The shared base of the protocol framings: the state, the
// moves every protocol's step makes on it, and the largest message length learnt. Imports
// no protocol: postgres.ts, mqtt.ts and kafka.ts build on it, and protocols.ts (which knows
// them all) creates a state and runs the step of its kind. Pure functions over this state and
// the header bytes given: framing.ts wireFrame feeds them from a read's ByteView, asking for
// header bytes only.

/** Outcomes of a protocol step, protocols.ts wireFeed and framing.ts wireFrame. */
export const WIRE_OK: i32 = 0;
/** A message is longer than maxMessageBytes (decided as soon as its length is known). */
export const WIRE_TOO_BIG: i32 = 1;
/** The bytes cannot be framed under this protocol (a length that cannot be, a field past its message). */
export const WIRE_MALFORMED: i32 = 2;
/** An MQTT PUBLISH payload is longer than maxPublishBytes. */
export const WIRE_PUBLISH_TOO_BIG: i32 = 3;

/** The largest header piece a step asks for at once (the MQTT client id is the largest). */
export const WIRE_HEADER_MAX: u32 = 256;

/**
 * Per-direction state, outside the managed heap. `phase`, `a` and `b` mean what the protocol's
 * file says; `peer` is the other direction's state of the same connection (0 until linked):
 * Postgres' server answer to an SSLRequest changes how the client side is framed, and MQTT's
 * protocol level, read from the client's CONNECT, decides how the server's PUBLISH is laid out.
 */
@unmanaged
export class WireState {
  kind: u32;
  phase: u32;
  want: u32;      // header bytes the next step needs
  have: u32;      // of which gathered so far (in the header area after this struct)
  skip: u64;      // bytes to pass unread before the next header byte
  msgLeft: u64;   // bytes of the current message not yet passed (header included); 0 between messages
  a: u64;
  b: u64;
  max: u64;       // maxMessageBytes
  maxPublish: u64; // MQTT: maxPublishBytes (u64.MAX_VALUE: no limit)
  peer: usize;
  flags: u32;
  level: u32;     // MQTT protocol level of the connection (client side only)
  idLen: u32;     // MQTT: bytes of the CONNECT client id kept (client side only)
  idState: u32;   // MQTT: ID_* (client side only)
}

/** The gathered header bytes of st. */
export function headerOf(st: WireState): usize {
  return changetype<usize>(st) + offsetof<WireState>();
}

/** Links the two directions of one connection (client first). */
export function wirePair(client: WireState, server: WireState): void {
  client.peer = changetype<usize>(server);
  server.peer = changetype<usize>(client);
}

export function freeWireState(st: WireState): void {
  heap.free(changetype<usize>(st));
}

/**
 * The largest message length a framing learnt from a header since resetLargest() (learning mode
 * reads it after each read's framing step): what framing parsed anyway, never a byte more.
 */
var largest: u64 = 0;
/** Beyond this a length says only "too big" (a report's numbers are safe JSON integers). */
const LARGEST_CAP: u64 = 9007199254740991;

// @ts-ignore: decorator
@inline
export function resetLargest(): void {
  largest = 0;
}

// @ts-ignore: decorator
@inline
export function largestMessage(): u64 {
  return largest;
}

/** A message of `total` bytes was framed (its header read, or its delimiter found). */
// @ts-ignore: decorator
@inline
export function noteMessage(total: u64): void {
  if (total > largest) largest = total < LARGEST_CAP ? total : LARGEST_CAP;
}

/** Starts a message of `total` bytes of which `headerRead` have been taken: the limit, then the rest to skip. */
export function beginMessage(st: WireState, total: u64, headerRead: u64): i32 {
  noteMessage(total);
  if (total > st.max) return WIRE_TOO_BIG;
  if (total < headerRead) return WIRE_MALFORMED;
  st.msgLeft = total - headerRead;
  return WIRE_OK;
}

/** Asks for `n` more header bytes of the current message (n ≤ WIRE_HEADER_MAX, within the message). */
export function askHeader(st: WireState, n: u64): i32 {
  if (n > st.msgLeft || n > <u64>WIRE_HEADER_MAX) return WIRE_MALFORMED;
  st.want = <u32>n;
  st.msgLeft -= n;
  return WIRE_OK;
}

/** Passes the rest of the current message unread; the next header (`nextWant` bytes) starts the next one. */
export function skipRest(st: WireState, nextWant: u32): void {
  st.skip = st.msgLeft;
  st.msgLeft = 0;
  st.want = nextWant;
}

/** Passes `n` bytes of the current message unread, then wants `then` more header bytes of it. */
export function skipThen(st: WireState, n: u64, then: u64): i32 {
  if (n > st.msgLeft) return WIRE_MALFORMED;
  st.msgLeft -= n;
  st.skip = n;
  return askHeader(st, then);
}

/** Payload bytes the cursor passes unread from `avail` new bytes. */
export function wireSkip(st: WireState, avail: u64): u64 {
  let n = st.skip < avail ? st.skip : avail;
  st.skip -= n;
  return n;
}

/** Header bytes the cursor still needs before its next step (0 while skipping). */
export function wireWant(st: WireState): u32 {
  return st.skip > 0 ? 0 : st.want - st.have;
}

export function be16(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1);
}

export function be32(p: usize): u32 {
  return (<u32>load<u8>(p) << 24) | (<u32>load<u8>(p + 1) << 16) | (<u32>load<u8>(p + 2) << 8) | <u32>load<u8>(p + 3);
}
