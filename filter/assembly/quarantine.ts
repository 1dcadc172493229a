// Quarantine: a source's strikes per segment, in shared data so that every worker sees them;
// past `strikes` within the window the source is denied until the quarantine ends.
import { Segment } from "./config";
import { identityLen, identityUtf8 } from "./facts";
import { hostGetShared, hostLen, hostPtr, releaseHost } from "./hostcalls";
import { quarantinedUntil } from "./persource";
import { args, updateShared, UPDATE_STRIKE } from "./sharedupdate";

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
