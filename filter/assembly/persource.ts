// Per-source budgets and quarantine in the host's shared data, so that every
// Envoy worker thread (each with its own VM) sees the same counts. Updates are
// read-modify-write with CAS, retried on conflict; when retries run out the
// filter fails closed. Windows are fixed: they start at a source's first use
// and reset once `window` has passed.
import { Rule, Segment, NONE } from "./config";
import { CAS_MISMATCH, hostCas, hostGetShared, hostLen, hostPtr, hostSetShared, OK, releaseHost } from "./hostcalls";
import { R_SOURCE_BYTES, R_SOURCE_CONNECTIONS, R_SOURCE_PORTS } from "./reasons";

const RETRIES: i32 = 8;
const MAX_PORTS_KEPT: u32 = 1024;

// Scratch for the record being written; grows (keeping its bytes), never shrinks.
var scratch: usize = heap.alloc(64);
var scratchCap: usize = 64;

function ensureScratch(n: usize): void {
  if (n <= scratchCap) return;
  let cap = scratchCap;
  while (cap < n) cap <<= 1;
  scratch = heap.realloc(scratch, cap);
  scratchCap = cap;
}

// Per-source record: [0] window start ms (i64) [8] bytes (u64) [16] connections (u32) [20] port count (u32) [24..] ports (u32 each)
const HEAD: usize = 24;

/** Copies the current record (or a fresh one when absent, malformed or expired) into scratch; returns its length. */
function loadRecord(nowMs: i64, windowMs: i64): usize {
  let len: usize = HEAD;
  ensureScratch(HEAD);
  memory.fill(scratch, 0, HEAD);
  store<i64>(scratch, nowMs);
  if (hostLen >= HEAD) {
    let start = load<i64>(hostPtr);
    let nports = load<u32>(hostPtr + 20);
    let full = HEAD + <usize>nports * 4;
    if (nports <= MAX_PORTS_KEPT && hostLen >= full && start <= nowMs && nowMs - start < windowMs) {
      ensureScratch(full + 4);
      memory.copy(scratch, hostPtr, full);
      len = full;
    }
  }
  return len;
}

/**
 * At connect: counts the connection and its port against the rule's perSource
 * limits. Returns -1 when admitted (and recorded), else the reason.
 */
export function perSourceAdmit(key: ArrayBuffer, r: Rule, port: i32, nowMs: i64): i32 {
  let windowMs = <i64>min(r.psWindowS, 9007199254740) * 1000;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (!hostGetShared(changetype<usize>(key), key.byteLength)) return R_SOURCE_CONNECTIONS;
    let cas = hostCas;
    let len = loadRecord(nowMs, windowMs);
    releaseHost();
    let conns = load<u32>(scratch + 16);
    if (r.psMaxConnections != NONE && <u64>conns + 1 > r.psMaxConnections) return R_SOURCE_CONNECTIONS;
    if (r.psMaxBytes != NONE && load<u64>(scratch + 8) > r.psMaxBytes) return R_SOURCE_BYTES;
    let nports = load<u32>(scratch + 20);
    let known = false;
    for (let i: u32 = 0; i < nports; i++) {
      if (load<u32>(scratch + HEAD + <usize>i * 4) == <u32>port) { known = true; break; }
    }
    if (!known) {
      if (r.psMaxPorts != NONE && <u64>nports + 1 > r.psMaxPorts) return R_SOURCE_PORTS;
      if (nports < MAX_PORTS_KEPT) {
        ensureScratch(len + 4);
        store<u32>(scratch + HEAD + <usize>nports * 4, <u32>port);
        store<u32>(scratch + 20, nports + 1);
        len += 4;
      }
    }
    store<u32>(scratch + 16, conns + 1);
    let rc = hostSetShared(changetype<usize>(key), key.byteLength, scratch, len, cas);
    if (rc == OK) return -1;
    if (rc != CAS_MISMATCH) break;
  }
  return R_SOURCE_CONNECTIONS; // could not record: fail closed
}

// Byte leases: a connection takes budget from the shared record ahead of use and
// spends it without host calls. A lease is granted only while the source is far
// from its limit, so near the limit every read is accounted exactly, and the
// source never carries more than maxBytes in a window.
export const LEASE_BYTES: u64 = 65536;
const LEASE_FAR: u64 = 64 * LEASE_BYTES;

/** Set by perSourceReserve: the extra bytes granted and the window they belong to. */
export var leaseGranted: u64 = 0;
export var leaseWindowStart: i64 = 0;

/**
 * Reserves `need` bytes (plus, far from the limit, a lease) in the source's window.
 * `heldWindow` is the window of the caller's current lease: when the record's
 * window has moved on, that lease is void and `needIfVoid` bytes are needed instead.
 * False when the bytes would pass perSource maxBytes.
 */
export function perSourceReserve(keyPtr: usize, keyLen: usize, r: Rule, need: u64, needIfVoid: u64, heldWindow: i64, nowMs: i64): bool {
  let windowMs = <i64>min(r.psWindowS, 9007199254740) * 1000;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (!hostGetShared(keyPtr, keyLen)) return false;
    let cas = hostCas;
    let len = loadRecord(nowMs, windowMs);
    releaseHost();
    let start = load<i64>(scratch);
    let want = start == heldWindow ? need : needIfVoid;
    let used = load<u64>(scratch + 8);
    let remaining: u64 = used >= r.psMaxBytes ? 0 : r.psMaxBytes - used;
    if (want > remaining) return false;
    let extra: u64 = remaining - want >= LEASE_FAR ? LEASE_BYTES : 0;
    store<u64>(scratch + 8, used + want + extra);
    let rc = hostSetShared(keyPtr, keyLen, scratch, len, cas);
    if (rc == OK) {
      leaseGranted = extra;
      leaseWindowStart = start;
      return true;
    }
    if (rc != CAS_MISMATCH) break;
  }
  return false;
}

/** Gives an unspent lease back to its window (when that window is still current). */
export function perSourceRelease(keyPtr: usize, keyLen: usize, r: Rule, lease: u64, window: i64, nowMs: i64): void {
  if (lease == 0) return;
  let windowMs = <i64>min(r.psWindowS, 9007199254740) * 1000;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (!hostGetShared(keyPtr, keyLen)) return;
    let cas = hostCas;
    let len = loadRecord(nowMs, windowMs);
    releaseHost();
    if (load<i64>(scratch) != window) return; // that window is over: nothing to give back
    let used = load<u64>(scratch + 8);
    store<u64>(scratch + 8, used > lease ? used - lease : 0);
    if (hostSetShared(keyPtr, keyLen, scratch, len, cas) != CAS_MISMATCH) return;
  }
}

// Quarantine record: [0] window start ms (i64) [8] strikes (u32) [12] pad [16] quarantined until ms (i64)
const Q_LEN: usize = 24;

export function isQuarantined(key: ArrayBuffer, nowMs: i64): bool {
  if (!hostGetShared(changetype<usize>(key), key.byteLength)) return false;
  let until: i64 = 0;
  if (hostLen >= Q_LEN) until = load<i64>(hostPtr + 16);
  releaseHost();
  return nowMs < until;
}

/** Records one strike; when strikes reach the segment's limit within its window the source is quarantined. */
export function addStrike(key: ArrayBuffer, seg: Segment, nowMs: i64): void {
  let windowMs = <i64>min(seg.quarantineWindowS, 9007199254740) * 1000;
  let durationMs = <i64>min(seg.quarantineDurationS, 9007199254740) * 1000;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (!hostGetShared(changetype<usize>(key), key.byteLength)) return;
    let cas = hostCas;
    ensureScratch(Q_LEN);
    memory.fill(scratch, 0, Q_LEN);
    store<i64>(scratch, nowMs);
    if (hostLen >= Q_LEN) {
      let start = load<i64>(hostPtr);
      store<i64>(scratch + 16, load<i64>(hostPtr + 16));
      if (start <= nowMs && nowMs - start < windowMs) {
        store<i64>(scratch, start);
        store<u32>(scratch + 8, load<u32>(hostPtr + 8));
      }
    }
    releaseHost();
    let strikes = load<u32>(scratch + 8) + 1;
    if (<u64>strikes >= seg.quarantineStrikes) {
      store<i64>(scratch + 16, nowMs + durationMs);
      strikes = 0; // a new count starts with the quarantine
      store<i64>(scratch, nowMs);
    }
    store<u32>(scratch + 8, strikes);
    let rc = hostSetShared(changetype<usize>(key), key.byteLength, scratch, Q_LEN, cas);
    if (rc != CAS_MISMATCH) return;
  }
}
