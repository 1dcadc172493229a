// Quarantine: a source's strikes per segment, in shared data so that every worker sees them;
// past `strikes` within the window the source is denied until the quarantine ends.
import { Segment } from "./config";
import { identity } from "./facts";
import { hostGetShared, hostLen, hostPtr, releaseHost } from "./hostcalls";
import { quarantinedUntil } from "./persource";
import { args, updateShared, UPDATE_STRIKE } from "./sharedupdate";

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

export function quarantineKey(seg: Segment): ArrayBuffer {
  return String.UTF8.encode("picoseg/q/" + seg.name + "/" + identity());
}
