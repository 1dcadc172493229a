// Learning mode's hooks into the filter's stages: one table of observations and one reporter per
// VM (an Envoy worker), turned on by the configuration's `observe` line. Every hook starts with
// the `observing` branch, so that with learning off a connection pays nothing else; none of them
// changes a decision or holds a byte.
import { FRAMING_CHUNK, FRAMING_DELIMITED, FRAMING_KAFKA, FRAMING_LENGTH_PREFIXED, FRAMING_MQTT, FRAMING_POSTGRES, Rule } from "./config";
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
 * At admission, after readFacts() and startFraming(), under rule `r` (null: admitted without one):
 * the connection's stash, outside the managed heap. [u64 its largest message so far][u16 bytes of
 * the principal][u16 of the source address][u16 of the framing's name][u16 STASH_* flags], then
 * those texts as the host gave them (UTF-16 code units, copied, no encoding: setup pays an
 * allocation and the copies). 0 when not observing, so the connection carries one pointer and
 * nothing else. The measure is fixed here: under a rule that frames messages, the largest length
 * the framing step learnt from a header; else (chunk, no limit) the largest read.
 */
export function learnStash(r: Rule | null): usize {
  if (!observing) return 0;
  let framing = "";
  if (r !== null) framing = framedName(r as Rule);
  let pl = <usize>(principal.length > 1024 ? 1024 : principal.length) << 1;
  let sl = <usize>(sourceText.length > 128 ? 128 : sourceText.length) << 1;
  let fl = <usize>framing.length << 1;
  let blob = heap.alloc(STASH_HEAD + pl + sl + fl);
  store<u64>(blob, 0);
  store<u16>(blob + 8, <u16>pl);
  store<u16>(blob + 10, <u16>sl);
  store<u16>(blob + 12, <u16>fl);
  store<u16>(blob + STASH_FLAGS, fl > 0 ? STASH_FRAMED : 0);
  memory.copy(blob + STASH_HEAD, changetype<usize>(principal), pl);
  memory.copy(blob + STASH_HEAD + pl, changetype<usize>(sourceText), sl);
  memory.copy(blob + STASH_HEAD + pl + sl, changetype<usize>(framing), fl);
  return blob;
}

const STASH_FLAGS: usize = 14;
const STASH_HEAD: usize = 16;
/** The stash measures messages under the rule's framing, not reads. */
const STASH_FRAMED: u16 = 1;
/** Framing lost the message boundaries (a violation in audit mode): what follows is not measured. */
const STASH_LOST: u16 = 2;
/** How a report names the measure of reads: each read is a message. */
const CHUNK = "chunk";

/**
 * The framing a rule measures messages under, as CONFIG.md's `framing` line writes it without the
 * keyword ("lengthPrefixed 1 4 big -4", "delimited 0d0a", "postgres"); "" when it measures reads.
 * Named once per rule: connection setup only copies it.
 */
function framedName(r: Rule): string {
  if (!r.frames || r.framing == FRAMING_CHUNK) return "";
  if (r.framingName.length == 0) r.framingName = framingText(r);
  return r.framingName;
}

function framingText(r: Rule): string {
  if (r.framing == FRAMING_LENGTH_PREFIXED) {
    return "lengthPrefixed " + r.lpOffset.toString() + " " + r.lpWidth.toString() + " " + (r.lpBig ? "big" : "little") + " " + r.lpAdjustment.toString();
  }
  if (r.framing == FRAMING_DELIMITED) {
    let hex = "delimited ";
    for (let k = <i32>r.delimiterLen - 1; k >= 0; k--) {
      let b = (r.delimiter >> (<u32>k * 8)) & 0xff;
      hex += HEX.charAt(<i32>(b >> 4)) + HEX.charAt(<i32>(b & 15));
    }
    return hex;
  }
  if (r.framing == FRAMING_POSTGRES) return "postgres";
  if (r.framing == FRAMING_MQTT) return "mqtt";
  if (r.framing == FRAMING_KAFKA) return "kafka";
  return CHUNK;
}

const HEX = "0123456789abcdef";

/** A read of `fresh` new bytes on an observed connection that measures reads. */
// @ts-ignore: decorator
@inline
export function learnRead(blob: usize, fresh: u64): void {
  if (fresh > load<u64>(blob) && load<u16>(blob + STASH_FLAGS) == 0) store<u64>(blob, fresh);
}

/**
 * After a framing step on an observed connection: `largest`, the longest message whose length the
 * step learnt (wire/cursor.ts largestMessage); `lost`, the step found a violation and the
 * boundaries after it are not to be trusted, so measuring stops there (the measure already
 * holds the message that violated).
 */
// @ts-ignore: decorator
@inline
export function learnMessages(blob: usize, largest: u64, lost: bool): void {
  let flags = load<u16>(blob + STASH_FLAGS);
  if (flags != STASH_FRAMED) return;
  if (largest > load<u64>(blob)) store<u64>(blob, largest);
  if (lost) store<u16>(blob + STASH_FLAGS, flags | STASH_LOST);
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
    let largest = load<u64>(blob);
    let pl = <usize>load<u16>(blob + 8);
    let sl = <usize>load<u16>(blob + 10);
    let fl = <usize>load<u16>(blob + 12);
    let p = pl > 0 ? String.UTF16.decodeUnsafe(blob + STASH_HEAD, pl) : principal;
    let ip = ipOf(String.UTF16.decodeUnsafe(blob + STASH_HEAD + pl, sl));
    let framing = fl > 0 ? String.UTF16.decodeUnsafe(blob + STASH_HEAD + pl + sl, fl) : CHUNK;
    let dur: u64 = nowMs > startMs ? <u64>(nowMs - startMs) : 0;
    t.addConnection(p, ip, port, protocol, framing, startMs, bytesIn, bytesOut, largest, dur, nowMs);
  }
  heap.free(blob);
}

/** A denial (or audit would-deny), after readFacts() in the connection's context. */
export function learnDenial(port: i32, reason: i32, audit: bool, nowMs: i64): void {
  if (!reporting) return;
  let t = table;
  if (t !== null) t.addDenial(principal, ipOf(sourceText), port, reason, audit, nowMs);
}

/** From root context `rootId`'s tick, with it effective: the flush when its interval has passed. */
export function learnTick(nowMs: i64, rootId: u32): void {
  let r = reporter;
  let t = table;
  if (r !== null && t !== null) r.tick(t, nowMs, rootId);
}

/** proxy_on_delete of a root context. */
export function learnRootGone(rootId: u32): void {
  let r = reporter;
  if (r !== null) r.rootGone(rootId);
}

/** proxy_on_grpc_receive (status 0) and proxy_on_grpc_close. */
export function learnCallDone(token: u32, status: u32): void {
  let r = reporter;
  if (r !== null) r.done(token, status);
}
