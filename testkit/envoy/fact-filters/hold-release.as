// Envoy probe (AssemblyScript 0.17, no SDK; built and run by run.ts): can a network filter release
// server bytes it held with StopIteration in proxy_on_upstream_data, later, from its root's tick?
// The plugin configuration's first byte picks what the tick does, in the connection's context
// (proxy_set_effective_context), once a connection has held bytes for 3 ticks of 100 ms:
//   'c': proxy_continue_stream(3) (upstream), then proxy_continue_stream(2) (downstream);
//   'w': watermark toggle: prepend FILL bytes to the held upstream buffer, then drain them;
//   's': no holding; proxy_on_new_connection returns StopIteration and the tick calls
//        proxy_continue_stream(2) (does tcp_proxy's IMMEDIATE mode still let the TLS handshake run?).
// Counters: csprobe.<name> (see NAMES), in Envoy's wasmcustom namespace.
@external("env", "proxy_set_tick_period_milliseconds") declare function proxy_set_tick_period_milliseconds(p: u32): u32;
@external("env", "proxy_set_effective_context") declare function proxy_set_effective_context(id: u32): u32;
@external("env", "proxy_continue_stream") declare function proxy_continue_stream(t: u32): u32;
@external("env", "proxy_get_buffer_bytes") declare function proxy_get_buffer_bytes(t: u32, s: u32, l: u32, pp: usize, sp: usize): u32;
@external("env", "proxy_set_buffer_bytes") declare function proxy_set_buffer_bytes(t: u32, s: u32, l: u32, p: usize, n: usize): u32;
@external("env", "proxy_define_metric") declare function proxy_define_metric(t: u32, np: usize, ns: usize, idp: usize): u32;
@external("env", "proxy_increment_metric") declare function proxy_increment_metric(id: u32, o: i64): u32;

const FILL: u32 = 1048577; // Envoy's default per_connection_buffer_limit_bytes + 1
const MAXC: i32 = 64;
const M_CONTINUE: u8 = 99; // 'c'
const M_STOP_AT_ACCEPT: u8 = 115; // 's'
const NAMES = ["held", "cs3_ok", "cs3_unimplemented", "cs3_other", "cs2_ok", "cs2_other", "getbuf_ok", "getbuf_fail",
  "fill_ok", "fill_fail", "drain_ok", "drain_fail", "after_release_calls", "after_release_bytes", "after_release_end"];
const C_HELD = 0; const C_CS3_OK = 1; const C_CS3_UNIMPL = 2; const C_CS3_OTHER = 3; const C_CS2_OK = 4; const C_CS2_OTHER = 5;
const C_GET_OK = 6; const C_GET_FAIL = 7; const C_FILL_OK = 8; const C_FILL_FAIL = 9; const C_DRAIN_OK = 10; const C_DRAIN_FAIL = 11;
const C_AFTER = 12; const C_AFTER_BYTES = 13; const C_AFTER_END = 14;

let ids = new StaticArray<u32>(MAXC);
let held = new StaticArray<u32>(MAXC);
let age = new StaticArray<i32>(MAXC);
let released = new StaticArray<bool>(MAXC);
let mids = new StaticArray<u32>(16);
let mode: u8 = M_CONTINUE;
let out: usize = 0;
let out2: usize = 0;
let filler: usize = 0;
let defined = false;

function inc(i: i32, n: i64 = 1): void { proxy_increment_metric(mids[i], n); }
function slot(id: u32): i32 { for (let i = 0; i < MAXC; i++) if (ids[i] == id) return i; return -1; }

export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return heap.alloc(size); }
export function proxy_on_context_create(id: u32, parent: u32): void {}
export function proxy_on_vm_start(r: u32, s: u32): u32 { return 1; }
export function proxy_on_configure(r: u32, size: u32): u32 {
  if (out == 0) { out = heap.alloc(8); out2 = heap.alloc(8); }
  if (!defined) {
    for (let i = 0; i < NAMES.length; i++) {
      let b = String.UTF8.encode("csprobe." + NAMES[i]);
      proxy_define_metric(0, changetype<usize>(b), b.byteLength, out);
      mids[i] = load<u32>(out);
    }
    defined = true;
  }
  if (size > 0 && proxy_get_buffer_bytes(7, 0, size, out, out2) == 0 && load<u32>(out2) > 0) mode = load<u8>(load<usize>(out));
  proxy_set_tick_period_milliseconds(100);
  return 1;
}
export function proxy_on_new_connection(id: u32): u32 {
  for (let i = 0; i < MAXC; i++) {
    if (ids[i] == 0) {
      ids[i] = id; age[i] = 0; released[i] = false;
      held[i] = mode == M_STOP_AT_ACCEPT ? 1 : 0;
      break;
    }
  }
  return mode == M_STOP_AT_ACCEPT ? 1 : 0;
}
export function proxy_on_downstream_data(id: u32, size: u32, end: u32): u32 { return 0; }
export function proxy_on_upstream_data(id: u32, size: u32, end: u32): u32 {
  let i = slot(id);
  if (i < 0 || mode == M_STOP_AT_ACCEPT) return 0;
  if (released[i]) { inc(C_AFTER); inc(C_AFTER_BYTES, size); if (end != 0) inc(C_AFTER_END); return 0; }
  if (size > 0) { held[i] = size; inc(C_HELD); return 1; }
  return 0;
}
export function proxy_on_tick(root: u32): void {
  for (let i = 0; i < MAXC; i++) {
    let id = ids[i];
    if (id == 0 || held[i] == 0 || released[i]) continue;
    if (++age[i] < 3) continue;
    released[i] = true;
    proxy_set_effective_context(id);
    if (mode == M_STOP_AT_ACCEPT) {
      if (proxy_continue_stream(2) == 0) inc(C_CS2_OK); else inc(C_CS2_OTHER);
    } else if (mode == M_CONTINUE) {
      let rc = proxy_continue_stream(3);
      if (rc == 0) inc(C_CS3_OK); else if (rc == 12) inc(C_CS3_UNIMPL); else inc(C_CS3_OTHER);
      if (proxy_continue_stream(2) == 0) inc(C_CS2_OK); else inc(C_CS2_OTHER);
    } else {
      if (proxy_get_buffer_bytes(3, 0, held[i], out, out2) == 0 && load<u32>(out2) == held[i]) inc(C_GET_OK); else inc(C_GET_FAIL);
      if (filler == 0) { filler = heap.alloc(FILL); memory.fill(filler, 0x2a, FILL); }
      if (proxy_set_buffer_bytes(3, 0, 0, filler, FILL) == 0) inc(C_FILL_OK); else inc(C_FILL_FAIL);
      if (proxy_set_buffer_bytes(3, 0, FILL, filler, 0) == 0) inc(C_DRAIN_OK); else inc(C_DRAIN_FAIL);
    }
  }
  proxy_set_effective_context(root);
}
export function proxy_on_downstream_connection_close(id: u32, p: u32): void {}
export function proxy_on_upstream_connection_close(id: u32, p: u32): void {}
export function proxy_on_done(id: u32): u32 { return 1; }
export function proxy_on_log(id: u32): void {}
export function proxy_on_delete(id: u32): void { let i = slot(id); if (i >= 0) ids[i] = 0; }
