// The host boundary, both ways: the allocator Envoy calls to hand us every value it returns,
// and thin, non-throwing wrappers over the proxy-wasm host calls that receive those values.
// One module because they keep one rule together: a value the host allocated is released
// (releaseHost) before the next host call, which is what lets the allocator serve it from
// one scratch block. The SDK's wrappers throw (and so abort the VM) on any non-Ok result, and
// its get_property fails on an absent property; picoseg must never trap, so every call here
// reports failure as a value.
import {
  proxy_log, proxy_get_property, proxy_get_buffer_bytes, proxy_get_current_time_nanoseconds,
  proxy_get_shared_data, proxy_set_shared_data, proxy_close_stream, proxy_set_effective_context,
  proxy_set_tick_period_milliseconds, proxy_define_metric, proxy_increment_metric, proxy_continue_stream,
} from "@solo-io/proxy-runtime/imports";
import { ByteView } from "./byteview";

// ABI 0.2.1; not declared by the SDK.
// @ts-ignore: decorator
@external("env", "proxy_get_log_level")
declare function proxy_get_log_level(levelPtr: usize): u32;

// ABI 0.2.1; the SDK binds its own declaration of this call to proxy_get_buffer_status.
// @ts-ignore: decorator
@external("env", "proxy_set_buffer_bytes")
declare function proxy_set_buffer_bytes(bufferType: u32, start: u32, length: u32, dataPtr: usize, dataSize: usize): u32;

// ---- the allocator Envoy calls (`malloc`, exported by index.ts) for every value it returns:
// properties, buffer bytes, shared data. Small requests reuse one scratch block, so the data
// path allocates nothing ----

const SCRATCH_SIZE: usize = 4096;
const MAX_ALLOC: usize = 1 << 29; // larger requests fail (0) rather than abort the VM

const scratch: usize = heap.alloc(SCRATCH_SIZE);
var scratchBusy: bool = false;

export function malloc(size: i32): usize {
  if (size < 0 || <usize>size > MAX_ALLOC) return 0;
  if (<usize>size <= SCRATCH_SIZE && !scratchBusy) {
    scratchBusy = true;
    return scratch;
  }
  return heap.alloc(<usize>size);
}

export function free(ptr: usize): void {
  if (ptr == scratch) {
    scratchBusy = false;
    return;
  }
  if (ptr != 0) heap.free(ptr);
}

// ---- the host calls ----

export const OK: u32 = 0;
export const CAS_MISMATCH: u32 = 8;

export const BUF_DOWNSTREAM: i32 = 2;
export const BUF_UPSTREAM: i32 = 3;
export const BUF_PLUGIN_CONFIG: i32 = 7;
export const STREAM_DOWNSTREAM: i32 = 2;

export const LOG_TRACE: i32 = 0;
export const LOG_DEBUG: i32 = 1;
export const LOG_INFO: i32 = 2;
export const LOG_WARN: i32 = 3;
export const LOG_ERROR: i32 = 4;

// Out-parameters the host writes into; allocated once.
const OUT_PTR: usize = heap.alloc(8);
const OUT_SIZE: usize = heap.alloc(8);
const OUT_CAS: usize = heap.alloc(8);
const OUT_U64: usize = heap.alloc(8);

/** The bytes of the last successful hostGet* call; valid until releaseHost(). */
export var hostPtr: usize = 0;
export var hostLen: usize = 0;

/** Gives back the buffer the host allocated through our malloc. */
export function releaseHost(): void {
  if (hostPtr != 0) free(hostPtr);
  hostPtr = 0;
  hostLen = 0;
}

function takeHostOut(rc: u32): bool {
  if (rc != OK) {
    hostPtr = 0;
    hostLen = 0;
    return false;
  }
  hostPtr = load<usize>(OUT_PTR);
  hostLen = load<usize>(OUT_SIZE);
  if (hostPtr == 0) hostLen = 0;
  return true;
}

/** Reads a property (path tokens joined by NUL) into hostPtr/hostLen. */
export function hostGetProperty(path: ArrayBuffer): bool {
  store<usize>(OUT_PTR, 0);
  store<usize>(OUT_SIZE, 0);
  return takeHostOut(proxy_get_property(changetype<usize>(path), path.byteLength, OUT_PTR, OUT_SIZE));
}

/** Copies [start, start+len) of a host buffer into hostPtr/hostLen (may be shorter). */
export function hostGetBuffer(bufferType: i32, start: u32, len: u32): bool {
  store<usize>(OUT_PTR, 0);
  store<usize>(OUT_SIZE, 0);
  if (len == 0) {
    hostPtr = 0;
    hostLen = 0;
    return true;
  }
  return takeHostOut(proxy_get_buffer_bytes(bufferType, start, len, OUT_PTR, OUT_SIZE));
}

/** Shared data: value into hostPtr/hostLen, its CAS into hostCas. NotFound gives an empty value and CAS 0. */
export var hostCas: u32 = 0;
export function hostGetShared(keyPtr: usize, keyLen: usize): bool {
  store<usize>(OUT_PTR, 0);
  store<usize>(OUT_SIZE, 0);
  store<u32>(OUT_CAS, 0);
  let rc = proxy_get_shared_data(keyPtr, keyLen, OUT_PTR, OUT_SIZE, OUT_CAS);
  if (rc != OK) {
    hostPtr = 0;
    hostLen = 0;
    hostCas = 0;
    return rc == 1; // NotFound: a fresh record
  }
  hostCas = load<u32>(OUT_CAS);
  return takeHostOut(rc);
}

export function hostSetShared(keyPtr: usize, keyLen: usize, value: usize, len: usize, cas: u32): u32 {
  return proxy_set_shared_data(keyPtr, keyLen, value, len, cas);
}

var lastNowMs: i64 = 0;
/** Host clock in milliseconds; on a host error the last known time. */
export function nowMs(): i64 {
  store<u64>(OUT_U64, 0);
  if (proxy_get_current_time_nanoseconds(OUT_U64) == OK) {
    let ns = load<u64>(OUT_U64);
    lastNowMs = <i64>(ns / 1000000);
  }
  return lastNowMs;
}

/** The host clock as this VM last read it (nowMs), without a host call. */
export function lastClockMs(): i64 {
  return lastNowMs;
}

/** The host's current log level; info when the host cannot tell. */
export function hostLogLevel(): i32 {
  store<u32>(OUT_U64, <u32>LOG_INFO);
  if (proxy_get_log_level(OUT_U64) != OK) return LOG_INFO;
  return <i32>load<u32>(OUT_U64);
}

export function hostLog(level: i32, msg: string): void {
  let buf = String.UTF8.encode(msg);
  proxy_log(<usize>level, changetype<usize>(buf), buf.byteLength);
}

export function closeDownstream(): void {
  proxy_close_stream(STREAM_DOWNSTREAM);
}

/** Hands the client bytes a StopIteration held to the next filter (Envoy: continueReading). */
export function continueDownstream(): void {
  proxy_continue_stream(STREAM_DOWNSTREAM);
}

/**
 * Releases server bytes a StopIteration held in the current connection's upstream buffer while no
 * server bytes arrive to re-deliver them. Envoy 1.40 answers proxy_continue_stream(upstream) with
 * Unimplemented, and proxy_continue_stream(downstream) resumes only the read path. The held buffer is
 * the upstream connection's read buffer (Envoy keeps it as the context's upstream buffer after a
 * StopIteration), a watermark buffer: pushing it past its high watermark read-disables the upstream
 * connection, draining it back re-enables reading, and re-enabling a connection with buffered bytes
 * makes Envoy dispatch them again: proxy_on_upstream_data sees the held bytes once more, on the next
 * event-loop turn (test/integration probe: hold-release). `fill` must exceed the upstream cluster's
 * per_connection_buffer_limit_bytes (1 MiB by default). The filler is zeros and is drained again in
 * this call. Returns NUDGE_OK, NUDGE_REFUSED (the host refused the first step: nothing changed), or
 * NUDGE_BROKEN (filler could not be drained: the buffer no longer holds only the server's bytes).
 */
export const NUDGE_OK: i32 = 0;
export const NUDGE_REFUSED: i32 = 1;
export const NUDGE_BROKEN: i32 = 2;
const FILL_CHUNK: u32 = 65536;
var fillZeros: usize = 0;
export function nudgeUpstream(fill: u32): i32 {
  forgetFetched(); // the upstream buffer changes under this call
  if (fillZeros == 0) {
    fillZeros = heap.alloc(<usize>FILL_CHUNK);
    memory.fill(fillZeros, 0, <usize>FILL_CHUNK);
  }
  let added: u32 = 0;
  while (added < fill) {
    let n = fill - added < FILL_CHUNK ? fill - added : FILL_CHUNK;
    if (proxy_set_buffer_bytes(<u32>BUF_UPSTREAM, 0, 0, fillZeros, <usize>n) != OK) break;
    added += n;
  }
  if (added == 0) return NUDGE_REFUSED;
  return proxy_set_buffer_bytes(<u32>BUF_UPSTREAM, 0, added, fillZeros, 0) == OK ? NUDGE_OK : NUDGE_BROKEN;
}

export function setEffectiveContext(id: u32): bool {
  return proxy_set_effective_context(id) == OK;
}

export function setTickPeriod(ms: u32): void {
  proxy_set_tick_period_milliseconds(ms);
}

/** Defines a counter; 0xffffffff when the host refused. */
export function defineCounter(name: string): u32 {
  let buf = String.UTF8.encode(name);
  store<u32>(OUT_U64, 0xffffffff);
  if (proxy_define_metric(0, changetype<usize>(buf), buf.byteLength, OUT_U64) != OK) return 0xffffffff;
  return load<u32>(OUT_U64);
}

export function incrementCounter(id: u32): void {
  if (id != 0xffffffff) proxy_increment_metric(id, 1);
}

/** proxy-wasm Action values a data or new-connection callback returns. */
export const CONTINUE: u32 = 0;
export const STOP: u32 = 1;

/**
 * The last few bytes fetched from a host buffer in this callback. A later step that asks for bytes
 * inside them (framing's length field inside the prefix sniffing read) costs no second host call:
 * each one copies through a call back into our malloc. Valid only while the host buffer is
 * unchanged: forgotten at the start of every data callback (forgetFetched) and by nudgeUpstream.
 */
const KEEP_MAX: u32 = 64;
const kept: usize = heap.alloc(<usize>KEEP_MAX);
var keptSource: usize = 0;
var keptStart: u32 = 0;
var keptLen: u32 = 0;
/** The last fill was served from `kept`: its release gives nothing back to the host. */
var fillWasKept: bool = false;

export function forgetFetched(): void {
  keptSource = 0;
  keptLen = 0;
}

/** ByteView filler over the host buffer whose type is view.source: copies just the asked bytes. */
export function fillFromHost(view: ByteView, start: u32, len: u32): bool {
  if (keptSource == view.source && keptLen > 0 && start >= keptStart && <u64>start + <u64>len <= <u64>keptStart + <u64>keptLen) {
    view.ptr = kept + <usize>(start - keptStart);
    view.len = <usize>len;
    fillWasKept = true;
    return true;
  }
  fillWasKept = false;
  let ok = hostGetBuffer(<i32>view.source, start, len);
  view.ptr = hostPtr;
  view.len = hostLen;
  if (ok && hostLen > 0 && hostLen <= <usize>KEEP_MAX) {
    memory.copy(kept, hostPtr, hostLen);
    keptSource = view.source;
    keptStart = start;
    keptLen = <u32>hostLen;
  }
  return ok;
}

export function releaseToHost(view: ByteView): void {
  if (!fillWasKept) releaseHost();
  fillWasKept = false;
  view.ptr = 0;
  view.len = 0;
}
