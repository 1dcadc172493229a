// The module's exports: proxy-wasm ABI 0.2.1 callbacks for a network filter.
// picoseg dispatches every callback itself (root contexts included): the SDK's
// dispatch logs every live context id on each new connection and aborts the VM
// on an absent property; the SDK still provides the root context base class,
// the host-call declarations and the allocator.
export { malloc, free } from "./alloc";
import {
  configure, connectionClosed, connectionData, contextCreate, contextDelete, newConnection, tick,
} from "./root";

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_vm_start(rootId: u32, vmConfigSize: u32): u32 {
  return 1;
}

export function proxy_validate_configuration(rootId: u32, size: u32): u32 {
  return 1;
}

/** Always succeeds: a bad configuration is enforced as `no-config` by the filter itself. */
export function proxy_on_configure(rootId: u32, size: u32): u32 {
  configure(rootId, size);
  return 1;
}

export function proxy_on_tick(rootId: u32): void {
  tick(rootId);
}

export function proxy_on_context_create(id: u32, parentId: u32): void {
  contextCreate(id, parentId);
}

export function proxy_on_new_connection(id: u32): u32 {
  return newConnection(id);
}

export function proxy_on_downstream_data(id: u32, size: u32, end: u32): u32 {
  return connectionData(id, size, end != 0, false);
}

export function proxy_on_upstream_data(id: u32, size: u32, end: u32): u32 {
  return connectionData(id, size, end != 0, true);
}

export function proxy_on_downstream_connection_close(id: u32, peer: u32): void {
  connectionClosed(id);
}

export function proxy_on_upstream_connection_close(id: u32, peer: u32): void {
  connectionClosed(id);
}

export function proxy_on_done(id: u32): u32 {
  return 1;
}

export function proxy_on_log(id: u32): void {}

export function proxy_on_delete(id: u32): void {
  contextDelete(id);
}

export function proxy_on_queue_ready(rootId: u32, token: u32): void {}

export function proxy_on_foreign_function(rootId: u32, functionId: u32, size: u32): void {}
