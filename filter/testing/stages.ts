// Test-only AssemblyScript entry: the filter's pure stages (framing, sniffing, per-source
// records, and the protocol framings of assembly/wire/) exported over plain memory, without the
// host; and what the server decides too (CIDR matching, schedules, rule selection, reason
// strings), for the shared vectors of test/vectors/. Built by test/filter/stages/stages-wasm.ts
// into .tmp/filter-stages/; never part of the filter.
import { ByteView, newByteView } from "../assembly/byteview";
import { Cidr, addrHi, addrLo, addrV4, parseCidr, parseSocketAddress } from "../assembly/cidr";
import { Config } from "../assembly/config";
import { parseConfig } from "../assembly/configparse";
import { destPort, principal, sniLen, sniPtr, sourceHi, sourceLo, sourceOk, sourceV4 } from "../assembly/facts";
import { FrameState, frameAdvance, newFrameState, wireFrame } from "../assembly/framing";
import {
  admitRecord, leaseGranted, leaseWindowStart, quarantinedUntil, record, recordLen, releaseRecord, reserveRecord, strikeRecord,
} from "../assembly/persource";
import { REASONS, REASON_COUNT } from "../assembly/reasons";
import { select, selectedRule } from "../assembly/rules";
import { ruleInWindow } from "../assembly/schedule";
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

// ---- what the server decides too (test/vectors/twins.json) ----

/**
 * Envoy's `source.address` at [addr, addr+addrLen) against the `ip` block at [block, block+blockLen):
 * 1 inside, 0 outside; -1 when the block does not parse, -2 when the address does not.
 */
export function cidrContains(block: usize, blockLen: usize, addr: usize, addrLen: usize): i32 {
  let c = parseCidr(block, blockLen);
  if (c === null) return -1;
  if (!parseSocketAddress(addr, addrLen)) return -2;
  return (c as Cidr).contains(addrV4, addrHi, addrLo) ? 1 : 0;
}

/** Whether the schedule of rule `rule` of the loaded configuration admits Unix millisecond `ms`. */
export function scheduleAdmits(rule: i32, ms: i64): bool {
  let cfg = config as Config;
  return ruleInWindow(cfg, cfg.rules[rule], ms);
}

/**
 * Rule selection (rules.ts select) over the loaded configuration for a connection whose facts are
 * set here as readFacts() sets them from Envoy's properties: `source.address` (empty: absent), the
 * mTLS peer principal (empty: none), `destination.port` (-1: unknown); no TLS server name. The
 * governing rule's index, or -1 - the reason (REASONS) when none governs.
 */
export function selectRule(source: usize, sourceLen: usize, peer: usize, peerLen: usize, port: i32): i32 {
  sourceOk = sourceLen > 0 && parseSocketAddress(source, sourceLen);
  sourceV4 = addrV4;
  sourceHi = addrHi;
  sourceLo = addrLo;
  principal = String.UTF8.decodeUnsafe(peer, peerLen);
  destPort = port;
  sniPtr = 0;
  sniLen = 0;
  let reason = select(config as Config);
  return reason < 0 ? selectedRule : -1 - reason;
}

/** The number of reasons, -1 when REASONS and REASON_COUNT disagree. */
export function reasonCount(): i32 {
  return REASONS.length == REASON_COUNT ? REASON_COUNT : -1;
}

/** REASONS[i] in fresh memory: its UTF-8 length (u32), then its bytes. */
export function reasonText(i: i32): usize {
  let s = REASONS[i];
  let n = <usize>String.UTF8.byteLength(s);
  let p = heap.alloc(4 + n);
  store<u32>(p, <u32>n);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p + 4);
  return p;
}
