// Test-only AssemblyScript entry: the filter's pure stages (framing, sniffing, per-source
// records, and the protocol framings of assembly/wire/) exported over plain memory, without the host. Built by
// test/filter/stages/stages-wasm.ts into .tmp/filter-stages/; never part of the filter.
import { ByteView, newByteView } from "../assembly/byteview";
import { Config } from "../assembly/config";
import { parseConfig } from "../assembly/configparse";
import { FrameState, frameAdvance, newFrameState, wireFrame } from "../assembly/framing";
import {
  admitRecord, leaseGranted, leaseWindowStart, quarantinedUntil, record, recordLen, releaseRecord, reserveRecord, strikeRecord,
} from "../assembly/persource";
import { sniff, sniffView } from "../assembly/sniff";
import { WireState, wirePair } from "../assembly/wire/cursor";
import { sniffKafka } from "../assembly/wire/kafka";
import { mqttClientId, sniffMqtt } from "../assembly/wire/mqtt";
import { newWireState } from "../assembly/wire/protocols";
import { sniffAmqp, sniffNats } from "../assembly/wire/signatures";
import { serverNameMatches, sniOffset, tlsServerName } from "../assembly/wire/tls";

/** Room for the caller's bytes (configuration, stream, record). */
export function bytes(n: u32): usize {
  return heap.alloc(<usize>n);
}

var config: Config | null = null;

/** Parses a configuration string; true when valid. Rules and segments are then addressed by index. */
export function loadConfig(ptr: usize, len: usize): bool {
  let cfg = parseConfig(ptr, len);
  config = cfg;
  return cfg.valid;
}

// ---- a ByteView over memory that counts what the stages ask for ----

var fills: u32 = 0;
var bytesAsked: u64 = 0;
var failFills: bool = false;

function fillFromMemory(view: ByteView, start: u32, len: u32): bool {
  fills++;
  bytesAsked += len;
  if (failFills) return false;
  let avail: u32 = start < view.size ? view.size - start : 0;
  view.ptr = view.source + start;
  view.len = len < avail ? len : avail;
  return true;
}

function releaseMemory(view: ByteView): void {
  view.ptr = 0;
  view.len = 0;
}

const view = newByteView(fillFromMemory, releaseMemory, 0);

function over(buf: usize, size: u32): ByteView {
  view.source = buf;
  view.size = size;
  return view;
}

/** Fill calls and bytes asked since the last call; `fail` makes the next fills fail (a host error). */
export function fillCount(): u32 { let n = fills; fills = 0; return n; }
export function bytesAskedCount(): u64 { let n = bytesAsked; bytesAsked = 0; return n; }
export function failNextFills(fail: bool): void { failFills = fail; }

// ---- framing ----

var frame: usize = newFrameState();

export function frameReset(): void {
  frame = newFrameState();
}

/** frameAdvance over bytes [start, end) of the buffer `buf` of `size` bytes, under rule `rule`. */
export function frameFeed(rule: i32, buf: usize, size: u32, start: u32, end: u32): bool {
  let r = (config as Config).rules[rule];
  return frameAdvance(r, changetype<FrameState>(frame), over(buf, size), start, end);
}

export function framePos(): u64 { return changetype<FrameState>(frame).pos; }
export function frameLen(): u64 { return changetype<FrameState>(frame).len; }

// ---- sniffing ----

export function sniffBuffer(buf: usize, size: u32, fromServer: bool, end: bool): i32 {
  return sniffView(over(buf, size), size, fromServer, end);
}

export function sniffPrefix(buf: usize, len: u32, fromServer: bool, final: bool): i32 {
  return sniff(buf, <usize>len, fromServer, final);
}

// ---- per-source and quarantine records ----

export function admit(rule: i32, cur: usize, curLen: u32, port: i32, nowMs: i64): i32 {
  return admitRecord(cur, <usize>curLen, (config as Config).rules[rule], port, nowMs);
}

export function reserve(rule: i32, cur: usize, curLen: u32, need: u64, needIfVoid: u64, heldWindow: i64, nowMs: i64): i32 {
  return reserveRecord(cur, <usize>curLen, (config as Config).rules[rule], need, needIfVoid, heldWindow, nowMs);
}

export function release(rule: i32, cur: usize, curLen: u32, lease: u64, window: i64, nowMs: i64): i32 {
  return releaseRecord(cur, <usize>curLen, (config as Config).rules[rule], lease, window, nowMs);
}

export function strike(segment: i32, cur: usize, curLen: u32, nowMs: i64): i32 {
  return strikeRecord(cur, <usize>curLen, (config as Config).segments[segment], nowMs);
}

export function quarantineEnd(cur: usize, curLen: u32): i64 { return quarantinedUntil(cur, <usize>curLen); }
export function recordAt(): usize { return record; }
export function recordSize(): u32 { return <u32>recordLen; }
export function lease(): u64 { return leaseGranted; }
export function leaseWindow(): i64 { return leaseWindowStart; }

// ---- the protocol framings, signatures and TLS server name (assembly/wire/) ----
// Fed through framing.ts wireFrame and the counting view above: the filter's own path.

export function freeBytes(p: usize): void {
  heap.free(p);
}

export function wireNew(kind: u32, fromServer: bool, maxMessage: u64, maxPublish: u64): usize {
  return changetype<usize>(newWireState(kind, fromServer, maxMessage, maxPublish));
}

export function wireLink(client: usize, server: usize): void {
  wirePair(changetype<WireState>(client), changetype<WireState>(server));
}

/** A WIRE_* outcome of one read of `len` bytes at buf. */
export function wireFeed(st: usize, buf: usize, len: u32): i32 {
  return wireFrame(changetype<WireState>(st), over(buf, len), 0, len);
}

export function mqttIdState(st: usize): u32 { return changetype<WireState>(st).idState; }
export function mqttIdPtr(st: usize): usize { return mqttClientId(changetype<WireState>(st)); }
export function mqttIdLen(st: usize): u32 { return changetype<WireState>(st).idLen; }
export function mqttLevel(st: usize): u32 { return changetype<WireState>(st).level; }

/** kind: 0 mqtt, 1 kafka, 2 amqp, 3 nats. */
export function sniffAs(kind: i32, buf: usize, len: usize): i32 {
  if (kind == 0) return sniffMqtt(buf, len);
  if (kind == 1) return sniffKafka(buf, len);
  if (kind == 2) return sniffAmqp(buf, len);
  return sniffNats(buf, len);
}

export function sni(buf: usize, len: usize): i32 { return tlsServerName(buf, len); }
export function sniAt(): usize { return sniOffset; }

export function nameMatches(pat: usize, patLen: usize, name: usize, nameLen: usize): bool {
  return serverNameMatches(String.UTF8.decodeUnsafe(pat, patLen), name, nameLen);
}
