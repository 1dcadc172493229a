// A minimal proxy-wasm network filter (AssemblyScript 0.17, no SDK) that logs what Envoy tells a
// network filter about the peer at two moments: proxy_on_new_connection and the first
// proxy_on_downstream_data. Used to learn when the mTLS peer's URI SAN becomes readable.
// Log lines: `picoseg-probe <moment> uri_san=<value or (none)> mtls=<0|1|(none)>`.

@external("env", "proxy_get_property")
declare function proxy_get_property(pathPtr: usize, pathSize: usize, valuePtrPtr: usize, valueSizePtr: usize): u32;
@external("env", "proxy_log")
declare function proxy_log(level: u32, ptr: usize, size: usize): u32;

const LOG_WARN: u32 = 3;
let seenData = new Set<u32>();

function path(a: string, b: string): ArrayBuffer {
  let x = String.UTF8.encode(a);
  let y = String.UTF8.encode(b);
  let out = new ArrayBuffer(x.byteLength + 1 + y.byteLength);
  memory.copy(changetype<usize>(out), changetype<usize>(x), x.byteLength);
  store<u8>(changetype<usize>(out) + x.byteLength, 0);
  memory.copy(changetype<usize>(out) + x.byteLength + 1, changetype<usize>(y), y.byteLength);
  return out;
}

function property(a: string, b: string, asBool: bool): string {
  let p = path(a, b);
  let out = heap.alloc(16);
  if (proxy_get_property(changetype<usize>(p), p.byteLength, out, out + 8) != 0) return "(none)";
  let ptr = load<usize>(out);
  let len = load<usize>(out + 8);
  if (asBool) return len > 0 && load<u8>(ptr) != 0 ? "1" : "0";
  return String.UTF8.decodeUnsafe(ptr, len);
}

function report(moment: string): void {
  let line = "picoseg-probe " + moment + " uri_san=" + property("connection", "uri_san_peer_certificate", false) +
    " mtls=" + property("connection", "mtls", true);
  let buf = String.UTF8.encode(line);
  proxy_log(LOG_WARN, changetype<usize>(buf), buf.byteLength);
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
  return 1;
}
export function proxy_on_new_connection(contextId: u32): u32 {
  report("new_connection");
  return 0;
}
export function proxy_on_downstream_data(contextId: u32, size: u32, end: u32): u32 {
  if (!seenData.has(contextId)) {
    seenData.add(contextId);
    report("first_downstream_data");
  }
  return 0;
}
export function proxy_on_upstream_data(contextId: u32, size: u32, end: u32): u32 {
  return 0;
}
export function proxy_on_downstream_connection_close(contextId: u32, peer: u32): void {}
export function proxy_on_upstream_connection_close(contextId: u32, peer: u32): void {}
export function proxy_on_done(contextId: u32): u32 {
  return 1;
}
export function proxy_on_log(contextId: u32): void {}
export function proxy_on_delete(contextId: u32): void {}
export function proxy_on_tick(rootId: u32): void {}
