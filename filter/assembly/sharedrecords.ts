// The per-source and quarantine records in the host's shared data, so that every Envoy worker
// thread (each with its own VM) sees the same counts and strikes: their keys, the bounded table
// of per-source slots of each rule, and the read-modify-write with CAS that every change goes
// through, around one of persource.ts's pure updates, retried on conflict; when retries run out
// (or the host errs) the caller fails closed. In order: that update, the per-source table
// (admission, byte reservations, lease release), quarantine (strikes, the check at admission).
import { Rule, Segment } from "./config";
import { identityLen, identityUtf8 } from "./facts";
import { CAS_MISMATCH, hostCas, hostGetShared, hostLen, hostPtr, hostSetShared, OK, releaseHost } from "./hostcalls";
import {
  admitRecord, quarantinedUntil, record, recordLen, releaseRecord, reserveRecord, secondsToMs, strikeRecord, WRITE,
} from "./persource";
import { R_SOURCE_CONNECTIONS } from "./reasons";

// ---- one change of a record: read, update (persource.ts), write with CAS ----

const RETRIES: i32 = 8;
/** updateShared's answers besides the update's own verdict. */
const WRITTEN: i32 = -3;
const FAILED: i32 = -4;

/** Which update updateShared applies, and its arguments (AssemblyScript 0.17 has no closures). */
const UPDATE_ADMIT: i32 = 0;
const UPDATE_RESERVE: i32 = 1;
const UPDATE_RELEASE: i32 = 2;
const UPDATE_STRIKE: i32 = 3;

@unmanaged
class UpdateArgs {
  port: i32;
  amount: u64;      // reserve: bytes needed; release: the lease
  amountIfVoid: u64;
  window: i64;      // the caller's lease window
  nowMs: i64;
}
const args = changetype<UpdateArgs>(heap.alloc(offsetof<UpdateArgs>()));

function applyUpdate(kind: i32, cur: usize, curLen: usize, r: Rule | null, seg: Segment | null): i32 {
  if (kind == UPDATE_ADMIT) return admitRecord(cur, curLen, r as Rule, args.port, args.nowMs);
  if (kind == UPDATE_RESERVE) return reserveRecord(cur, curLen, r as Rule, args.amount, args.amountIfVoid, args.window, args.nowMs);
  if (kind == UPDATE_RELEASE) return releaseRecord(cur, curLen, r as Rule, args.amount, args.window, args.nowMs);
  return strikeRecord(cur, curLen, seg as Segment, args.nowMs);
}

/** WRITTEN, the update's verdict when it wrote nothing, or FAILED. */
function updateShared(keyPtr: usize, keyLen: usize, kind: i32, r: Rule | null, seg: Segment | null): i32 {
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (!hostGetShared(keyPtr, keyLen)) return FAILED;
    let cas = hostCas;
    let verdict = applyUpdate(kind, hostPtr, hostLen, r, seg);
    releaseHost();
    if (verdict != WRITE) return verdict;
    let rc = hostSetShared(keyPtr, keyLen, record, recordLen, cas);
    if (rc == OK) return WRITTEN;
    if (rc != CAS_MISMATCH) return FAILED;
  }
  return FAILED;
}

// ---- per-source records in a bounded table ----
// Envoy's shared data cannot delete a key (proxy-wasm ABI 0.2.1), so one key per source would
// grow without end as devices come and go. A rule's records live in a fixed table of slots
// instead (Rule.psSlotMask + 1: four per source of perSource MAXSOURCES): a source may use any
// of CHOICES slots picked by double hashing its identity, whose 64-bit hash each record starts
// with. A new source takes a free slot or one whose window is over; when all hold other
// sources' live windows, the oldest window is evicted (`evicted`, counted by admission as
// picoseg.persource.evicted) and that source starts afresh on its next connection.

const CHOICES: i32 = 4;

/** Set by perSourceAdmit: a live window of another source was evicted to make room. */
export var evicted: bool = false;

/** The record as written: the identity's hash, then persource.ts's record. */
const ID_BYTES: usize = 8;
var slotRecord: usize = heap.alloc(64);
var slotRecordCap: usize = 64;

/** FNV-1a 64 of `n` bytes at `p` under two bases (one pass): slot hash and step. */
var hashA: u64 = 0;
var hashB: u64 = 0;
function fnv1a64x2(p: usize, n: usize, basisA: u64, basisB: u64): void {
  let a = basisA;
  let b = basisB;
  for (let i: usize = 0; i < n; i++) {
    let x = <u64>load<u8>(p + i);
    a = (a ^ x) * 0x100000001b3;
    b = (b ^ x) * 0x100000001b3;
  }
  hashA = a;
  hashB = b;
}

/** The identity's hash and its candidate slots. */
export class SourceSlots {
  id: u64 = 0;
  slots: StaticArray<u32> = new StaticArray<u32>(CHOICES);
}

/** sourceSlots' answer, reused: admission reads it at once (no allocation per connection). */
const theSlots = new SourceSlots();

/** The current connection's id and candidate slots under r; valid until the next call. */
export function sourceSlots(seg: Segment, r: Rule): SourceSlots {
  if (r.psKeyPrefix.byteLength == 0) r.psKeyPrefix = String.UTF8.encode("picoseg/ps/" + seg.name + "/" + r.name + "/#");
  let out = theSlots;
  fnv1a64x2(identityUtf8(), identityLen, 0xcbf29ce484222325, 0x84222325cbf29ce4);
  let h = hashA;
  if (h == 0) h = 1; // 0 marks an empty slot
  out.id = h;
  let step = hashB | 1;
  for (let k = 0; k < CHOICES; k++) out.slots[k] = <u32>((h + <u64>k * step) & <u64>r.psSlotMask);
  return out;
}

// The key of one slot, built in place: the rule's prefix, then the slot number in decimal.
var keyBuf: usize = heap.alloc(64);
var keyCap: usize = 64;
var keyLen: usize = 0;

function slotKey(r: Rule, slot: u32): usize {
  let prefixLen = <usize>r.psKeyPrefix.byteLength;
  if (prefixLen + 10 > keyCap) {
    keyCap = prefixLen + 10;
    keyBuf = heap.realloc(keyBuf, keyCap);
  }
  memory.copy(keyBuf, changetype<usize>(r.psKeyPrefix), prefixLen);
  let digits: usize = 1;
  for (let v = slot; v >= 10; v /= 10) digits++;
  let v = slot;
  for (let i = digits; i > 0; i--) {
    store<u8>(keyBuf + prefixLen + i - 1, <u8>(48 + v % 10));
    v /= 10;
  }
  keyLen = prefixLen + digits;
  return keyBuf;
}

/** The id a slot's value (as read: hostPtr/hostLen) holds, 0 for none. */
function slotId(): u64 {
  return hostLen >= ID_BYTES ? load<u64>(hostPtr) : 0;
}

/** Writes the source id and persource.ts's `record` to the slot with CAS: OK, CAS_MISMATCH or a host error. */
function writeSlot(keyPtr: usize, keyLen: usize, id: u64, cas: u32): i32 {
  let n = ID_BYTES + recordLen;
  if (n > slotRecordCap) {
    slotRecord = heap.realloc(slotRecord, n);
    slotRecordCap = n;
  }
  store<u64>(slotRecord, id);
  memory.copy(slotRecord + ID_BYTES, record, recordLen);
  return hostSetShared(keyPtr, keyLen, slotRecord, n, cas);
}

/** updateSlot's answer when the slot holds another source and may not be claimed. */
const NOT_MINE: i32 = -5;

/**
 * One update of source `id`'s record in the slot `key` (`claim`: another source's record there
 * is replaced by a fresh one). WRITTEN, the update's verdict, FAILED, or NOT_MINE. The first
 * attempt works on the value perSourceAdmit's scan kept when there is one (`seen`): the CAS of
 * the write then guards the time in between exactly as a fresh read would.
 */
function updateSlot(keyPtr: usize, keyLen: usize, id: u64, kind: i32, r: Rule, claim: bool, seen: i32): i32 {
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    let cur: usize;
    let curLen: usize;
    let cas: u32;
    let fromHost = attempt > 0 || seen < 0;
    if (fromHost) {
      if (!hostGetShared(keyPtr, keyLen)) return FAILED;
      cur = hostPtr;
      curLen = hostLen;
      cas = hostCas;
    } else {
      cur = unchecked(seenValue[seen]);
      curLen = unchecked(seenLen[seen]);
      cas = unchecked(seenCas[seen]);
    }
    let mine = curLen >= ID_BYTES && load<u64>(cur) == id;
    if (!mine && !claim) {
      if (fromHost) releaseHost();
      return NOT_MINE;
    }
    let verdict = mine ? applyUpdate(kind, cur + ID_BYTES, curLen - ID_BYTES, r, null) : applyUpdate(kind, 0, 0, r, null);
    if (fromHost) releaseHost();
    if (verdict != WRITE) return verdict;
    let rc = writeSlot(keyPtr, keyLen, id, cas);
    if (rc == OK) return WRITTEN;
    if (rc != CAS_MISMATCH) return FAILED;
  }
  return FAILED;
}

// The candidate slots' values as perSourceAdmit's scan read them, with their CAS, so that the
// chosen slot is not read a second time. Only a value with a CAS is kept: a key never written
// reads with CAS 0, and a write with CAS 0 is unconditional in Envoy, so such a slot is read
// again right before its write, as it always was.
const seenValue = new StaticArray<usize>(CHOICES);
const seenCap = new StaticArray<usize>(CHOICES);
const seenLen = new StaticArray<usize>(CHOICES);
const seenCas = new StaticArray<u32>(CHOICES);

/** Keeps the value just read (hostPtr/hostLen, hostCas) as candidate k's; false when it has no CAS. */
function keepSeen(k: i32): bool {
  if (hostCas == 0) return false;
  let cap = unchecked(seenCap[k]);
  if (hostLen > cap) {
    cap = hostLen < 64 ? 64 : hostLen;
    let p = unchecked(seenValue[k]);
    unchecked(seenValue[k] = p == 0 ? heap.alloc(cap) : heap.realloc(p, cap));
    unchecked(seenCap[k] = cap);
  }
  if (hostLen > 0) memory.copy(unchecked(seenValue[k]), hostPtr, hostLen);
  unchecked(seenLen[k] = hostLen);
  unchecked(seenCas[k] = hostCas);
  return true;
}

/** The window start of a slot's value as read; i64.MIN_VALUE when it holds nothing. */
function slotStart(): i64 {
  return hostLen >= ID_BYTES + 8 ? load<i64>(hostPtr + ID_BYTES) : i64.MIN_VALUE;
}

/** Which candidates' values the scan kept (keepSeen). */
const kept = new StaticArray<bool>(CHOICES);

/** Set by perSourceAdmit: the slot the source was recorded in. */
export var chosenSlot: u32 = 0;

/** At connect: -1 when admitted (and recorded in slot chosenSlot), else the reason; a record that cannot be written denies. */
export function perSourceAdmit(slots: SourceSlots, r: Rule, port: i32, nowMs: i64): i32 {
  args.port = port;
  args.nowMs = nowMs;
  evicted = false;
  // One pass: the source's own slot if it has one, else the first free (or expired) slot, else
  // the one with the oldest window.
  let window = secondsToMs(r.psWindowS);
  let target = -1;
  let free = -1;
  let oldest = 0;
  let oldestStart = i64.MAX_VALUE;
  for (let k = 0; k < CHOICES; k++) {
    if (!hostGetShared(slotKey(r, slots.slots[k]), keyLen)) return R_SOURCE_CONNECTIONS;
    let id = slotId();
    let start = slotStart();
    unchecked(kept[k] = keepSeen(k));
    releaseHost();
    if (id == slots.id) { target = k; break; }
    let live = id != 0 && start <= nowMs && nowMs - start < window;
    if (!live) { if (free < 0) free = k; }
    else if (start < oldestStart) { oldest = k; oldestStart = start; }
  }
  let own = target >= 0;
  if (!own) target = free >= 0 ? free : oldest;
  // Another source's live window in the chosen slot is evicted; a concurrent writer of the same
  // slot makes the CAS fail and the update retry on what it wrote.
  chosenSlot = slots.slots[target];
  let v = updateSlot(slotKey(r, chosenSlot), keyLen, slots.id, UPDATE_ADMIT, r, true, unchecked(kept[target]) ? target : -1);
  if (v == WRITTEN) {
    evicted = !own && free < 0;
    return -1;
  }
  return v >= 0 ? v : R_SOURCE_CONNECTIONS;
}

/**
 * A connection's per-source place, as admission keeps it (unmanaged, freed with the connection):
 * the source's id and its slot.
 */
export const SOURCE_PLACE_BYTES: usize = 12;

export function keepSourcePlace(id: u64, slot: u32): usize {
  let p = heap.alloc(SOURCE_PLACE_BYTES);
  store<u64>(p, id);
  store<u32>(p + 8, slot);
  return p;
}

/**
 * persource.ts reserveRecord in the connection's slot (`place`: keepSourcePlace); true when
 * granted (leaseGranted/leaseWindowStart are set). A source evicted meanwhile takes its slot
 * back with a fresh record.
 */
export function perSourceReserve(place: usize, r: Rule, need: u64, needIfVoid: u64, heldWindow: i64, nowMs: i64): bool {
  args.amount = need;
  args.amountIfVoid = needIfVoid;
  args.window = heldWindow;
  args.nowMs = nowMs;
  return updateSlot(slotKey(r, load<u32>(place + 8)), keyLen, load<u64>(place), UPDATE_RESERVE, r, true, -1) == WRITTEN;
}

/** Gives an unspent lease back to its window (when that window is still current and still the source's). */
export function perSourceRelease(place: usize, r: Rule, lease: u64, window: i64, nowMs: i64): void {
  if (lease == 0) return;
  args.amount = lease;
  args.window = window;
  args.nowMs = nowMs;
  updateSlot(slotKey(r, load<u32>(place + 8)), keyLen, load<u64>(place), UPDATE_RELEASE, r, false, -1);
}

// ---- quarantine: a source's strikes per segment; past `strikes` within the window the source
// is denied until the quarantine ends ----

/** The current connection's identity is in seg's quarantine at nowMs. */
export function isQuarantined(seg: Segment, nowMs: i64): bool {
  if (!hostGetShared(quarantineKey(seg), qKeyLen)) return false;
  let until = quarantinedUntil(hostPtr, hostLen);
  releaseHost();
  return nowMs < until;
}

/** One strike against the current connection's identity in seg. */
export function addStrike(seg: Segment, nowMs: i64): void {
  args.nowMs = nowMs;
  updateShared(quarantineKey(seg), qKeyLen, UPDATE_STRIKE, null, seg);
}

// `picoseg/q/<segment>/<identity>`, built on every new connection of a quarantining segment: the
// constant part is encoded once per segment and the identity appended, into one buffer reused
// by every key (string concatenation and allocation were the largest items of the filter's own
// Wasm time per connection).
/** The length of the key quarantineKey built last. */
var qKeyLen: usize = 0;
var qKey: usize = heap.alloc(64);
var qKeyCap: usize = 64;

/** The key of the current connection's identity in seg, at the returned address (qKeyLen bytes) until the next call. */
function quarantineKey(seg: Segment): usize {
  if (changetype<usize>(qSegName) != changetype<usize>(seg.name)) {
    // Holding the name keeps it alive, so an equal address is the same name, never a reused one.
    qSegName = seg.name;
    qPrefix = String.UTF8.encode("picoseg/q/" + seg.name + "/");
  }
  let id = identityUtf8();
  let n = <usize>qPrefix.byteLength;
  let len = n + identityLen;
  if (len > qKeyCap) {
    qKeyCap = len;
    qKey = heap.realloc(qKey, len);
  }
  memory.copy(qKey, changetype<usize>(qPrefix), n);
  memory.copy(qKey + n, id, identityLen);
  qKeyLen = len;
  return qKey;
}

/** null until the first key: a segment whose name is the empty string still gets its prefix. */
var qSegName: string | null = null;
var qPrefix: ArrayBuffer = new ArrayBuffer(0);
