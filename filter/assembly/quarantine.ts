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

// `picoseg/q/<segment>/<identity>`, built on every new connection of a quarantining segment: the
// constant part is encoded once per segment and the identity appended in one allocation (string
// concatenation was the largest item of the filter's own Wasm time per connection).
export function quarantineKey(seg: Segment): ArrayBuffer {
  if (changetype<usize>(qSegName) != changetype<usize>(seg.name)) {
    // Holding the name keeps it alive, so an equal address is the same name, never a reused one.
    qSegName = seg.name;
    qPrefix = String.UTF8.encode("picoseg/q/" + seg.name + "/");
  }
  let id = identity();
  let n = qPrefix.byteLength;
  let key = new ArrayBuffer(n + String.UTF8.byteLength(id));
  memory.copy(changetype<usize>(key), changetype<usize>(qPrefix), <usize>n);
  String.UTF8.encodeUnsafe(changetype<usize>(id), id.length, changetype<usize>(key) + <usize>n);
  return key;
}

/** null until the first key: a segment whose name is the empty string still gets its prefix. */
var qSegName: string | null = null;
var qPrefix: ArrayBuffer = new ArrayBuffer(0);
