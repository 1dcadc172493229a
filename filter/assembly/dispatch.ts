// The module's exports: the proxy-wasm ABI 0.2.1 callbacks of a network filter, each
// turned into a call on the root context or connection its id names. The only code that
// maps context ids to picoseg's root contexts and connections; the stages never see an id
// they have to look up. picoseg dispatches every callback itself (root contexts included):
// the SDK's dispatch logs every live context id on each new connection and aborts the VM
// on an absent property; the SDK still provides the root context base class and the
// host-call declarations (the allocator Envoy calls is picoseg's, hostcalls.ts).
// A new callback: export it here, find its root (rootById) or connection (connFind), and call a
// stage; an export the host may call but picoseg does not need stays a no-op here. Learning
// mode's report call ends in proxy_on_grpc_receive (success) or proxy_on_grpc_close (failure).
import { newConnection } from "./admission";
import { Conn, F_CLOSED, F_ENDED, connFind, connInsert, connNew, connRemove } from "./connection";
import { onData } from "./datapath";
import { readFacts } from "./facts";
import { STOP, closeDownstream, nowMs } from "./hostcalls";
import { learnCallDone, learnDrop, learnEnd, learnRootGone } from "./learning";
import { NO_ROOT, PicosegRoot, createRoot, dropRootIfDone, rootAt, rootById } from "./root";
import { tick } from "./tick";

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_vm_start(rootId: u32, vmConfigSize: u32): u32 {
  return 1;
}

export function proxy_validate_configuration(rootId: u32, size: u32): u32 {
  return 1;
}

/** Always succeeds: a bad configuration is enforced as `no-config` by the filter itself. */
export function proxy_on_configure(rootId: u32, size: u32): u32 {
  let root = rootById(rootId);
  if (root === null) {
    createRoot(rootId);
    root = rootById(rootId);
  }
  if (root !== null) root.configure(size);
  return 1;
}

export function proxy_on_tick(rootId: u32): void {
  let root = rootById(rootId);
  if (root !== null) tick(root as PicosegRoot);
}

export function proxy_on_context_create(id: u32, parentId: u32): void {
  if (parentId == 0) {
    createRoot(id);
    return;
  }
  if (connFind(id) != 0) return;
  let c = connNew(id);
  connInsert(c);
  let root = rootById(parentId);
  if (root !== null) root.link(c);
  else c.root = NO_ROOT;
}

export function proxy_on_new_connection(id: u32): u32 {
  let c = connectionOf(id);
  if (c === null) return STOP;
  let root = liveRoot(c as Conn);
  return root === null ? STOP : newConnection(root as PicosegRoot, c as Conn);
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
  let p = connFind(id);
  if (p != 0) {
    let c = changetype<Conn>(p);
    let root = rootAt(c.root);
    if (root !== null) {
      root.releaseLease(c);
      root.unlink(c);
      dropRootIfDone(root as PicosegRoot);
    }
    learnDrop(c.obs); // a stash learnEnd did not take (no close reported)
    connRemove(c);
    return;
  }
  let root = rootById(id);
  if (root !== null) {
    learnRootGone(id);
    root.deleted = true;
    dropRootIfDone(root as PicosegRoot);
  }
}

export function proxy_on_grpc_receive_initial_metadata(rootId: u32, token: u32, headers: u32): void {}

export function proxy_on_grpc_receive_trailing_metadata(rootId: u32, token: u32, trailers: u32): void {}

export function proxy_on_grpc_receive(rootId: u32, token: u32, size: u32): void {
  learnCallDone(token, 0);
}

export function proxy_on_grpc_close(rootId: u32, token: u32, status: u32): void {
  learnCallDone(token, status == 0 ? 0xffffffff : status);
}

export function proxy_on_queue_ready(rootId: u32, token: u32): void {}

export function proxy_on_foreign_function(rootId: u32, functionId: u32, size: u32): void {}

/** The connection of a callback; an unknown id is closed (never forwarded undecided). */
function connectionOf(id: u32): Conn | null {
  let p = connFind(id);
  if (p == 0) {
    closeDownstream();
    return null;
  }
  return changetype<Conn>(p);
}

/** The live root of connection c, else null after closing c: a connection whose root is gone fails closed. */
function liveRoot(c: Conn): PicosegRoot | null {
  let root = rootAt(c.root);
  if (root === null) {
    c.flags |= F_CLOSED;
    closeDownstream();
  }
  return root;
}

function connectionData(id: u32, size: u32, end: bool, upstream: bool): u32 {
  let c = connectionOf(id);
  if (c === null) return STOP;
  let root = liveRoot(c as Conn);
  return root === null ? STOP : onData(changetype<usize>(root), c as Conn, size, end, upstream);
}

function connectionClosed(id: u32): void {
  let p = connFind(id);
  if (p == 0) return;
  let c = changetype<Conn>(p);
  c.flags |= F_ENDED;
  if (c.obs != 0) {
    // Admission may have come before the TLS handshake: the principal is read again now.
    readFacts();
    learnEnd(c.obs, c.port, c.protocol, c.startMs, c.bytesIn, c.bytesOut, nowMs());
    c.obs = 0;
  }
}
