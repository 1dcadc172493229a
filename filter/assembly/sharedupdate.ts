// Records in the host's shared data, changed as a read-modify-write with CAS around one of
// persource.ts's pure updates, retried on conflict; when retries run out (or the host errs) the
// caller fails closed. Per-source slots (sourcestore.ts) and quarantine strikes (quarantine.ts).
import { Rule, Segment } from "./config";
import { CAS_MISMATCH, hostCas, hostGetShared, hostLen, hostPtr, hostSetShared, OK, releaseHost } from "./hostcalls";
import { admitRecord, record, recordLen, releaseRecord, reserveRecord, strikeRecord, WRITE } from "./persource";

export const RETRIES: i32 = 8;
/** updateShared's answers besides the update's own verdict. */
export const WRITTEN: i32 = -3;
export const FAILED: i32 = -4;

/** Which update updateShared applies, and its arguments (AssemblyScript 0.17 has no closures). */
export const UPDATE_ADMIT: i32 = 0;
export const UPDATE_RESERVE: i32 = 1;
export const UPDATE_RELEASE: i32 = 2;
export const UPDATE_STRIKE: i32 = 3;

@unmanaged
class UpdateArgs {
  port: i32;
  amount: u64;      // reserve: bytes needed; release: the lease
  amountIfVoid: u64;
  window: i64;      // the caller's lease window
  nowMs: i64;
}
export const args = changetype<UpdateArgs>(heap.alloc(offsetof<UpdateArgs>()));

export function applyUpdate(kind: i32, cur: usize, curLen: usize, r: Rule | null, seg: Segment | null): i32 {
  if (kind == UPDATE_ADMIT) return admitRecord(cur, curLen, r as Rule, args.port, args.nowMs);
  if (kind == UPDATE_RESERVE) return reserveRecord(cur, curLen, r as Rule, args.amount, args.amountIfVoid, args.window, args.nowMs);
  if (kind == UPDATE_RELEASE) return releaseRecord(cur, curLen, r as Rule, args.amount, args.window, args.nowMs);
  return strikeRecord(cur, curLen, seg as Segment, args.nowMs);
}

/** WRITTEN, the update's verdict when it wrote nothing, or FAILED. */
export function updateShared(keyPtr: usize, keyLen: usize, kind: i32, r: Rule | null, seg: Segment | null): i32 {
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
