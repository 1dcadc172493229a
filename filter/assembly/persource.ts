// Per-source budgets and quarantine: the records kept in the host's shared data, and how
// each event changes them. Pure: every function reads the current record (ptr, len; empty
// when absent) and writes the next one into `record`/`recordLen`; sharedrecords.ts does the
// shared-data CAS around them. Windows are fixed: they start at a source's first use and
// reset once `window` has passed.
// A new per-source limit: its Rule field (config.ts) and line (configparse.ts parseRuleLine), a
// check in admitRecord or reserveRecord, a reason in reasons.ts, tests in
// test/filter/stages/persource.test.ts.
import { NONE, Rule, Segment } from "./config";
import { R_SOURCE_BYTES, R_SOURCE_CONNECTIONS, R_SOURCE_PORTS } from "./reasons";

const MAX_PORTS_KEPT: u32 = 1024;

/** An update's answer when the record in `record` must be written (else: no write). */
export const WRITE: i32 = -1;

/** The next record, built by the last update; grows (keeping its bytes), never shrinks. */
export var record: usize = heap.alloc(64);
export var recordLen: usize = 0;
var recordCap: usize = 64;

function ensureRecord(n: usize): void {
  if (n <= recordCap) return;
  let cap = recordCap;
  while (cap < n) cap <<= 1;
  record = heap.realloc(record, cap);
  recordCap = cap;
}

export function secondsToMs(seconds: u64): i64 {
  return <i64>min(seconds, 9007199254740) * 1000;
}

// Per-source record: [0] window start ms (i64) [8] bytes (u64) [16] connections (u32) [20] port count (u32) [24..] ports (u32 each)
const HEAD: usize = 24;

/** Copies the current record (or a fresh one when absent, malformed or expired) into `record`. */
function loadRecord(cur: usize, curLen: usize, nowMs: i64, window: i64): void {
  let len: usize = HEAD;
  ensureRecord(HEAD);
  memory.fill(record, 0, HEAD);
  store<i64>(record, nowMs);
  if (curLen >= HEAD) {
    let start = load<i64>(cur);
    let nports = load<u32>(cur + 20);
    let full = HEAD + <usize>nports * 4;
    if (nports <= MAX_PORTS_KEPT && curLen >= full && start <= nowMs && nowMs - start < window) {
      ensureRecord(full + 4);
      memory.copy(record, cur, full);
      len = full;
    }
  }
  recordLen = len;
}

/**
 * At connect: counts the connection and its port against the rule's perSource limits.
 * WRITE when admitted (the counted record is in `record`), else the reason.
 */
export function admitRecord(cur: usize, curLen: usize, r: Rule, port: i32, nowMs: i64): i32 {
  loadRecord(cur, curLen, nowMs, secondsToMs(r.psWindowS));
  let conns = load<u32>(record + 16);
  if (r.psMaxConnections != NONE && <u64>conns + 1 > r.psMaxConnections) return R_SOURCE_CONNECTIONS;
  if (r.psMaxBytes != NONE && load<u64>(record + 8) > r.psMaxBytes) return R_SOURCE_BYTES;
  let nports = load<u32>(record + 20);
  let known = false;
  for (let i: u32 = 0; i < nports; i++) {
    if (load<u32>(record + HEAD + <usize>i * 4) == <u32>port) { known = true; break; }
  }
  if (!known) {
    if (r.psMaxPorts != NONE && <u64>nports + 1 > r.psMaxPorts) return R_SOURCE_PORTS;
    if (nports < MAX_PORTS_KEPT) {
      ensureRecord(recordLen + 4);
      store<u32>(record + HEAD + <usize>nports * 4, <u32>port);
      store<u32>(record + 20, nports + 1);
      recordLen += 4;
    }
  }
  store<u32>(record + 16, conns + 1);
  return WRITE;
}

// Byte leases: a connection takes budget from the shared record ahead of use and
// spends it without host calls. A lease is granted only while the source is far
// from its limit, so near the limit every read is accounted exactly, and the
// source never carries more than maxBytes in a window.
export const LEASE_BYTES: u64 = 65536;
const LEASE_FAR: u64 = 64 * LEASE_BYTES;

/** Set by reserveRecord: the extra bytes granted and the window they belong to (once the record is written). */
export var leaseGranted: u64 = 0;
export var leaseWindowStart: i64 = 0;

/**
 * Reserves `need` bytes (plus, far from the limit, a lease) in the source's window.
 * `heldWindow` is the window of the caller's current lease: when the record's
 * window has moved on, that lease is void and `needIfVoid` bytes are needed instead.
 * WRITE, or R_SOURCE_BYTES when the bytes would pass perSource maxBytes.
 */
export function reserveRecord(cur: usize, curLen: usize, r: Rule, need: u64, needIfVoid: u64, heldWindow: i64, nowMs: i64): i32 {
  loadRecord(cur, curLen, nowMs, secondsToMs(r.psWindowS));
  let start = load<i64>(record);
  let want = start == heldWindow ? need : needIfVoid;
  let used = load<u64>(record + 8);
  let remaining: u64 = used >= r.psMaxBytes ? 0 : r.psMaxBytes - used;
  if (want > remaining) return R_SOURCE_BYTES;
  let extra: u64 = remaining - want >= LEASE_FAR ? LEASE_BYTES : 0;
  store<u64>(record + 8, used + want + extra);
  leaseGranted = extra;
  leaseWindowStart = start;
  return WRITE;
}

/** Gives an unspent lease back to its window: WRITE, or NOTHING when that window is over. */
export const NOTHING: i32 = -2;
export function releaseRecord(cur: usize, curLen: usize, r: Rule, lease: u64, window: i64, nowMs: i64): i32 {
  loadRecord(cur, curLen, nowMs, secondsToMs(r.psWindowS));
  if (load<i64>(record) != window) return NOTHING;
  let used = load<u64>(record + 8);
  store<u64>(record + 8, used > lease ? used - lease : 0);
  return WRITE;
}

// Quarantine record: [0] window start ms (i64) [8] strikes (u32) [12] pad [16] quarantined until ms (i64)
const Q_LEN: usize = 24;

export function quarantinedUntil(cur: usize, curLen: usize): i64 {
  return curLen >= Q_LEN ? load<i64>(cur + 16) : 0;
}

/** One strike; when strikes reach the segment's limit within its window the source is quarantined. Always WRITE. */
export function strikeRecord(cur: usize, curLen: usize, seg: Segment, nowMs: i64): i32 {
  let window = secondsToMs(seg.quarantineWindowS);
  ensureRecord(Q_LEN);
  memory.fill(record, 0, Q_LEN);
  store<i64>(record, nowMs);
  if (curLen >= Q_LEN) {
    let start = load<i64>(cur);
    store<i64>(record + 16, load<i64>(cur + 16));
    if (start <= nowMs && nowMs - start < window) {
      store<i64>(record, start);
      store<u32>(record + 8, load<u32>(cur + 8));
    }
  }
  let strikes = load<u32>(record + 8) + 1;
  if (<u64>strikes >= seg.quarantineStrikes) {
    store<i64>(record + 16, nowMs + secondsToMs(seg.quarantineDurationS));
    strikes = 0; // a new count starts with the quarantine
    store<i64>(record, nowMs);
  }
  store<u32>(record + 8, strikes);
  recordLen = Q_LEN;
  return WRITE;
}
