// A minimal proxy-wasm network filter (AssemblyScript 0.17, no SDK) used only to check one claim the
// picoseg filter builds on, in the real Envoy: a root context's tick can close a live connection by
// making it the effective context and closing its downstream stream. It defines one counter per
// event so the test also learns how Envoy names Wasm-defined counters in /stats.
// Every connection older than CLOSE_AFTER_TICKS ticks (100 ms each) is closed from the tick.

@external("env", "proxy_set_tick_period_milliseconds")
declare function proxy_set_tick_period_milliseconds(period: u32): u32;
@external("env", "proxy_set_effective_context")
declare function proxy_set_effective_context(contextId: u32): u32;
@external("env", "proxy_close_stream")
declare function proxy_close_stream(streamType: u32): u32;
@external("env", "proxy_define_metric")
declare function proxy_define_metric(metricType: u32, namePtr: usize, nameSize: usize, idPtr: usize): u32;
@external("env", "proxy_increment_metric")
declare function proxy_increment_metric(metricId: u32, offset: i64): u32;

const STREAM_DOWNSTREAM: u32 = 2;
const CLOSE_AFTER_TICKS: i32 = 10;
const MAX_CONNS: i32 = 64;

let liveIds = new StaticArray<u32>(MAX_CONNS);
let liveAge = new StaticArray<i32>(MAX_CONNS);
let cNew: u32 = 0;
let cTickClosed: u32 = 0;
let cDownstreamClose: u32 = 0;
let defined = false;
let outId: usize = 0;

function define(name: string): u32 {
  let buf = String.UTF8.encode(name);
  if (outId == 0) outId = heap.alloc(8);
  proxy_define_metric(0, changetype<usize>(buf), buf.byteLength, outId);
  return load<u32>(outId);
}

export function proxy_abi_version_0_2_1(): void {}

export function malloc(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {}

export function proxy_on_vm_start(rootId: u32, size: u32): u32 {
  return 1;
}

export function proxy_on_configure(rootId: u32, size: u32): u32 {
  if (!defined) {
    cNew = define("picoseg.probe.connections");
    cTickClosed = define("picoseg.probe.tick_closed");
    cDownstreamClose = define("picoseg.probe.downstream_close");
    defined = true;
  }
  proxy_set_tick_period_milliseconds(100);
  return 1;
}

export function proxy_on_new_connection(contextId: u32): u32 {
  proxy_increment_metric(cNew, 1);
  for (let i = 0; i < MAX_CONNS; i++) {
    if (liveIds[i] == 0) {
      liveIds[i] = contextId;
      liveAge[i] = 0;
      break;
    }
  }
  return 0;
}

export function proxy_on_downstream_data(contextId: u32, size: u32, end: u32): u32 {
  return 0;
}

export function proxy_on_upstream_data(contextId: u32, size: u32, end: u32): u32 {
  return 0;
}

function forget(contextId: u32): void {
  for (let i = 0; i < MAX_CONNS; i++) if (liveIds[i] == contextId) liveIds[i] = 0;
}

export function proxy_on_tick(rootId: u32): void {
  for (let i = 0; i < MAX_CONNS; i++) {
    let id = liveIds[i];
    if (id == 0) continue;
    liveAge[i]++;
    if (liveAge[i] >= CLOSE_AFTER_TICKS) {
      liveIds[i] = 0;
      if (proxy_set_effective_context(id) == 0 && proxy_close_stream(STREAM_DOWNSTREAM) == 0) {
        proxy_increment_metric(cTickClosed, 1);
      }
    }
  }
}

export function proxy_on_downstream_connection_close(contextId: u32, peer: u32): void {
  proxy_increment_metric(cDownstreamClose, 1);
  forget(contextId);
}

export function proxy_on_upstream_connection_close(contextId: u32, peer: u32): void {}

export function proxy_on_done(contextId: u32): u32 {
  forget(contextId);
  return 1;
}

export function proxy_on_log(contextId: u32): void {}

export function proxy_on_delete(contextId: u32): void {
  forget(contextId);
}
