// Per-source and quarantine records in the host's shared data, so that every Envoy worker
// thread (each with its own VM) sees the same counts. Each change is a read-modify-write
// with CAS around one of persource.ts's pure updates, retried on conflict; when retries
// run out (or the host errs) the filter fails closed.
import { Rule, Segment } from "./config";
import { identity } from "./facts";
import { CAS_MISMATCH, hostCas, hostGetShared, hostLen, hostPtr, hostSetShared, OK, releaseHost } from "./hostcalls";
import {
  admitRecord, quarantinedUntil, record, recordLen, releaseRecord, reserveRecord, strikeRecord, WRITE,
} from "./persource";
import { R_SOURCE_CONNECTIONS } from "./reasons";

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

/** At connect: -1 when admitted (and recorded), else the reason; a record that cannot be written denies. */
export function perSourceAdmit(key: ArrayBuffer, r: Rule, port: i32, nowMs: i64): i32 {
  args.port = port;
  args.nowMs = nowMs;
  let v = updateShared(changetype<usize>(key), key.byteLength, UPDATE_ADMIT, r, null);
  if (v == WRITTEN) return -1;
  return v >= 0 ? v : R_SOURCE_CONNECTIONS;
}

/** persource.ts reserveRecord in shared data; true when granted (leaseGranted/leaseWindowStart are set). */
export function perSourceReserve(keyPtr: usize, keyLen: usize, r: Rule, need: u64, needIfVoid: u64, heldWindow: i64, nowMs: i64): bool {
  args.amount = need;
  args.amountIfVoid = needIfVoid;
  args.window = heldWindow;
  args.nowMs = nowMs;
  return updateShared(keyPtr, keyLen, UPDATE_RESERVE, r, null) == WRITTEN;
}

/** Gives an unspent lease back to its window (when that window is still current). */
export function perSourceRelease(keyPtr: usize, keyLen: usize, r: Rule, lease: u64, window: i64, nowMs: i64): void {
  if (lease == 0) return;
  args.amount = lease;
  args.window = window;
  args.nowMs = nowMs;
  updateShared(keyPtr, keyLen, UPDATE_RELEASE, r, null);
}

export function isQuarantined(key: ArrayBuffer, nowMs: i64): bool {
  if (!hostGetShared(changetype<usize>(key), key.byteLength)) return false;
  let until = quarantinedUntil(hostPtr, hostLen);
  releaseHost();
  return nowMs < until;
}

export function addStrike(key: ArrayBuffer, seg: Segment, nowMs: i64): void {
  args.nowMs = nowMs;
  updateShared(changetype<usize>(key), key.byteLength, UPDATE_STRIKE, null, seg);
}

// Record keys: per segment (and rule), per source identity (facts.ts: the principal, else the source IP):
// `picoseg/ps/<segment>/<rule>/<identity>` and `picoseg/q/<segment>/<identity>`. Built on every new
// connection, so the constant part is encoded once per segment and rule, not concatenated each time
// (string concatenation was most of the filter's own Wasm time per connection).
export function perSourceKey(seg: Segment, r: Rule): ArrayBuffer {
  if (changetype<usize>(psSegName) != changetype<usize>(seg.name) || changetype<usize>(psRuleName) != changetype<usize>(r.name)) {
    // Holding the names keeps them alive, so an equal address is the same name, never a reused one.
    psSegName = seg.name;
    psRuleName = r.name;
    psPrefix = String.UTF8.encode("picoseg/ps/" + seg.name + "/" + r.name + "/");
  }
  return withIdentity(psPrefix);
}

export function quarantineKey(seg: Segment): ArrayBuffer {
  if (changetype<usize>(qSegName) != changetype<usize>(seg.name)) {
    qSegName = seg.name;
    qPrefix = String.UTF8.encode("picoseg/q/" + seg.name + "/");
  }
  return withIdentity(qPrefix);
}

var psSegName: string = "";
var psRuleName: string = "";
var psPrefix: ArrayBuffer = new ArrayBuffer(0);
var qSegName: string = "";
var qPrefix: ArrayBuffer = new ArrayBuffer(0);

/** prefix followed by the UTF-8 bytes of the connection's identity, in one allocation. */
function withIdentity(prefix: ArrayBuffer): ArrayBuffer {
  let id = identity();
  let n = prefix.byteLength;
  let key = new ArrayBuffer(n + String.UTF8.byteLength(id));
  memory.copy(changetype<usize>(key), changetype<usize>(prefix), <usize>n);
  String.UTF8.encodeUnsafe(changetype<usize>(id), id.length, changetype<usize>(key) + <usize>n);
  return key;
}
