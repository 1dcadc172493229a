// Message boundaries under a rule's framing, advanced over each read's new bytes.
// Pure: the bytes come through a ByteView, and only those framing needs are asked for:
// a lengthPrefixed length field's bytes, or (delimited) every byte, since a delimiter
// can only be found by a scan. chunk framing reads none.
// A new framing type: its FRAMING_* constant (config.ts) and line (configparse.ts parseRuleLine),
// a branch in frameAdvance below, and tests in test/filter/stages/framing.test.ts.
import { ByteView } from "./byteview";
import { FRAMING_CHUNK, FRAMING_DELIMITED, FRAMING_KAFKA, FRAMING_LENGTH_PREFIXED, FRAMING_POSTGRES, Rule } from "./config";
import { Conn, F_WIRE } from "./connection";
import { WireState, WIRE_MALFORMED, WIRE_OK, freeWireState, noteMessage, resetLargest, wirePair, wireSkip, wireWant } from "./wire/cursor";
import { KIND_POSTGRES } from "./wire/postgres";
import { newWireState, wireFeed } from "./wire/protocols";

/** Per-direction framing state, kept outside the managed heap (no refcounting). */
@unmanaged
export class FrameState {
  pos: u64;   // bytes of the current message seen so far
  len: u64;   // length of the current message once its header is known, else 0
  value: u64; // length field accumulated from header bytes (delimited: the last bytes seen)
}

export function newFrameState(): usize {
  let p = heap.alloc(offsetof<FrameState>());
  memory.fill(p, 0, offsetof<FrameState>());
  return p;
}

/** Forgets the current message: audit mode resynchronises at the next read. */
export function resetFrame(st: FrameState): void {
  st.pos = 0;
  st.len = 0;
  st.value = 0;
}

const SCAN_CHUNK: u32 = 16384;

/**
 * Feeds bytes [start, end) of the buffer behind `view` through the rule's framing.
 * Returns false when a message exceeds maxMessageBytes (or the bytes cannot be read).
 * The largest message length it learnt is then wire/cursor.ts largestMessage().
 */
export function frameAdvance(r: Rule, st: FrameState, view: ByteView, start: u32, end: u32): bool {
  resetLargest();
  if (end <= start) return true;
  let max = r.maxMessageBytes;
  if (r.framing == FRAMING_CHUNK) return <u64>(end - start) <= max;
  if (r.framing == FRAMING_LENGTH_PREFIXED) return lengthPrefixed(r, st, view, start, end, max);
  if (r.framing == FRAMING_DELIMITED) return delimited(r, st, view, start, end, max);
  return false;
}

function lengthPrefixed(r: Rule, st: FrameState, view: ByteView, start: u32, end: u32, max: u64): bool {
  let hdr: u64 = r.lpOffset + <u64>r.lpWidth;
  let p = start;
  while (p < end) {
    let avail = <u64>(end - p);
    if (st.pos < hdr) {
      if (st.pos < r.lpOffset) {
        let skip = min(r.lpOffset - st.pos, avail);
        st.pos += skip;
        p += <u32>skip;
        continue;
      }
      // Read only the length field's bytes that are in this read.
      let want = min(hdr - st.pos, avail);
      if (!view.fill(view, p, <u32>want)) return false;
      if (<u64>view.len < want) { view.release(view); return false; }
      let bytes = view.ptr;
      for (let k: u64 = 0; k < want; k++) {
        let b = <u64>load<u8>(bytes + <usize>k);
        let idx = st.pos - r.lpOffset + k; // byte index within the length field
        if (r.lpBig) st.value = (st.value << 8) | b;
        else st.value |= b << (idx * 8);
      }
      view.release(view);
      st.pos += want;
      p += <u32>want;
      if (st.pos == hdr) {
        // length = OFFSET + WIDTH + value + ADJUSTMENT; values past 2^53 can only be too big.
        if (st.value > 9007199254740992) {
          noteMessage(u64.MAX_VALUE);
          return false;
        }
        let total: i64 = <i64>hdr + <i64>st.value + r.lpAdjustment;
        if (total < <i64>hdr) return false;
        noteMessage(<u64>total);
        if (<u64>total > max) return false;
        st.len = <u64>total;
        if (st.len == hdr) resetFrame(st);
      }
      continue;
    }
    let take = min(st.len - st.pos, avail);
    st.pos += take;
    p += <u32>take;
    if (st.pos == st.len) resetFrame(st);
  }
  return true;
}

function delimited(r: Rule, st: FrameState, view: ByteView, start: u32, end: u32, max: u64): bool {
  let dlen = r.delimiterLen;
  let mask: u32 = dlen >= 4 ? 0xffffffff : ((<u32>1 << (dlen * 8)) - 1);
  let delim = r.delimiter & mask;
  // st.value holds the last bytes seen (rolling window), st.pos the message length so far.
  let window = <u32>st.value;
  let p = start;
  while (p < end) {
    let n = min(end - p, SCAN_CHUNK);
    if (!view.fill(view, p, n)) return false;
    let got = <u32>view.len;
    if (got < n) { view.release(view); return false; }
    let bytes = view.ptr;
    for (let k: u32 = 0; k < got; k++) {
      window = (window << 8) | <u32>load<u8>(bytes + k);
      st.pos++;
      if (st.pos > max) { noteMessage(st.pos); view.release(view); return false; }
      if (st.pos >= <u64>dlen && (window & mask) == delim) { noteMessage(st.pos); st.pos = 0; }
    }
    view.release(view);
    p += got;
  }
  st.value = <u64>window;
  noteMessage(st.pos); // a line not ended yet counts as far as it goes
  return true;
}

// ---- the wire framings (postgres, mqtt, kafka: wire/*.ts) ----

/** Whether a rule's framing is one of the protocol framings of wire/. */
export function isWireFraming(framing: i32): bool {
  return framing >= FRAMING_POSTGRES && framing <= FRAMING_KAFKA;
}

/**
 * Gives connection c the framing state its rule needs, both directions, from the stream's
 * first byte. A rule that changes framing on a live connection (reconfiguration) keeps what
 * it has: a protocol framing cannot start in the middle of a stream.
 */
export function startFraming(c: Conn, r: Rule): void {
  if (c.frameIn != 0) return;
  if (isWireFraming(r.framing)) {
    let kind = <u32>(r.framing - FRAMING_POSTGRES) + KIND_POSTGRES;
    let client = newWireState(kind, false, r.maxMessageBytes, r.maxPublishBytes);
    let server = newWireState(kind, true, r.maxMessageBytes, r.maxPublishBytes);
    wirePair(client, server);
    c.frameIn = changetype<usize>(client);
    c.frameOut = changetype<usize>(server);
    c.flags |= F_WIRE;
    return;
  }
  c.frameIn = newFrameState();
  c.frameOut = newFrameState();
}

/** Stops framing c (audit mode, after a violation: its boundaries are lost). */
export function stopWireFraming(c: Conn): void {
  if (c.frameIn != 0) freeWireState(changetype<WireState>(c.frameIn));
  if (c.frameOut != 0) freeWireState(changetype<WireState>(c.frameOut));
  c.frameIn = 0;
  c.frameOut = 0;
}

/**
 * Feeds bytes [start, end) of the buffer behind `view` through a protocol framing: payload
 * bytes are skipped by count, only header bytes are read. A WIRE_* outcome.
 */
export function wireFrame(st: WireState, view: ByteView, start: u32, end: u32): i32 {
  resetLargest();
  let p = start;
  while (p < end) {
    p += <u32>wireSkip(st, <u64>(end - p));
    if (p >= end) break;
    let want = wireWant(st);
    if (want == 0) return WIRE_MALFORMED;
    let n = min(want, end - p);
    if (!view.fill(view, p, n)) return WIRE_MALFORMED;
    if (<u32>view.len < n) { view.release(view); return WIRE_MALFORMED; }
    let r = wireFeed(st, view.ptr, n);
    view.release(view);
    p += n;
    if (r != WIRE_OK) return r;
  }
  return WIRE_OK;
}
