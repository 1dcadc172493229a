// A proxy-wasm network filter (AssemblyScript 0.17, no SDK) that traps on the first downstream data:
// lets the harness show that it notices when Envoy reports a Wasm failure.
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
  return 0;
}
export function proxy_on_downstream_data(contextId: u32, size: u32, end: u32): u32 {
  unreachable();
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
