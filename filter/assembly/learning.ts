// Learning mode's hooks into the filter's stages: one table of observations and one reporter per
// VM (an Envoy worker), turned on by the configuration's `observe` line. Every hook starts with
// the `observing` branch, so that with learning off a connection pays nothing else; none of them
// changes a decision or holds a byte.
import { principal, sourceText } from "./facts";
import { ipOf } from "./cidr";
import { Observations } from "./observe";
import { Reporter } from "./report";

/** The configuration in force asks for observation of connections (learning mode). */
export var observing: bool = false;
/** It asks for reports: of connections and denials, or (`observe … denials`) of denials only. */
export var reporting: bool = false;
var table: Observations | null = null;
var reporter: Reporter | null = null;

/** From proxy_on_configure: an `observe` line (cluster != ""), or none (cluster == ""). */
export function learnConfigure(cluster: string, intervalMs: u64, capacity: u64, denialsOnly: bool): void {
  reporting = cluster.length > 0;
  observing = reporting && !denialsOnly;
  if (!reporting) return; // what was observed still goes out with the next flush
  let cap = <i32>(capacity > 65536 ? 65536 : capacity < 16 ? 16 : capacity);
  if (table === null || (table as Observations).conns.length < cap) table = new Observations(cap);
  let r = reporter;
  if (r === null || r.cluster != cluster) reporter = new Reporter(cluster, intervalMs);
  else r.intervalMs = <i64>(intervalMs < 100 ? 100 : intervalMs);
}

/**
 * At admission, after readFacts(): the connection's stash, outside the managed heap — its largest
 * read so far (u64), its principal and source address as the host gave them ([u16 length][u16
 * length][UTF-16 code units], copied, no encoding: setup pays an allocation and two copies) — for
 * its end. 0 when not observing, so the connection carries one pointer and nothing else.
 */
export function learnStash(): usize {
  if (!observing) return 0;
  let pl = <usize>(principal.length > 1024 ? 1024 : principal.length) << 1;
  let sl = <usize>(sourceText.length > 128 ? 128 : sourceText.length) << 1;
  let blob = heap.alloc(STASH_HEAD + pl + sl);
  store<u64>(blob, 0);
  store<u16>(blob + 8, <u16>pl);
  store<u16>(blob + 10, <u16>sl);
  memory.copy(blob + STASH_HEAD, changetype<usize>(principal), pl);
  memory.copy(blob + STASH_HEAD + pl, changetype<usize>(sourceText), sl);
  return blob;
}

const STASH_HEAD: usize = 12;

/** A read of `fresh` new bytes on an observed connection (the data path's only learning work). */
// @ts-ignore: decorator
@inline
export function learnRead(blob: usize, fresh: u64): void {
  if (fresh > load<u64>(blob)) store<u64>(blob, fresh);
}

/** Frees a stash without observing (the connection ended before it carried anything worth it). */
export function learnDrop(blob: usize): void {
  if (blob != 0) heap.free(blob);
}

/**
 * At a connection's end, after readFacts() in its context: adds it to the table and frees its
 * stash. A principal learnt after admission (the handshake ends after proxy_on_new_connection)
 * replaces the stash's empty one.
 */
export function learnEnd(blob: usize, port: i32, protocol: i32, startMs: i64, bytesIn: u64, bytesOut: u64, nowMs: i64): void {
  if (blob == 0) return;
  let t = table;
  if (t !== null) {
    let largestRead = load<u64>(blob);
    let pl = <usize>load<u16>(blob + 8);
    let sl = <usize>load<u16>(blob + 10);
    let p = pl > 0 ? String.UTF16.decodeUnsafe(blob + STASH_HEAD, pl) : principal;
    let ip = ipOf(String.UTF16.decodeUnsafe(blob + STASH_HEAD + pl, sl));
    let dur: u64 = nowMs > startMs ? <u64>(nowMs - startMs) : 0;
    t.addConnection(p, ip, port, protocol, startMs, bytesIn, bytesOut, largestRead, dur, nowMs);
  }
  heap.free(blob);
}

/** A denial (or audit would-deny), after readFacts() in the connection's context. */
export function learnDenial(port: i32, reason: i32, audit: bool, nowMs: i64): void {
  if (!reporting) return;
  let t = table;
  if (t !== null) t.addDenial(principal, ipOf(sourceText), port, reason, audit, nowMs);
}

/** From a root's tick, with the root context effective: the flush when its interval has passed. */
export function learnTick(nowMs: i64): void {
  let r = reporter;
  let t = table;
  if (r !== null && t !== null) r.tick(t, nowMs);
}

/** proxy_on_grpc_receive (status 0) and proxy_on_grpc_close. */
export function learnCallDone(token: u32, status: u32): void {
  let r = reporter;
  if (r !== null) r.done(token, status);
}
