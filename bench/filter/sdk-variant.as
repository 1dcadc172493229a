// The SDK as published, for comparison only (bench/filter/run.ts builds it with asc at
// bench time into .tmp/; the .as extension keeps it away from tsc). It creates contexts
// through @solo-io/proxy-runtime's own proxy_on_context_create export (ensureContext,
// which logs the ids of every live context on each new connection) and adds only the
// network-filter exports the SDK lacks, each doing nothing: what remains is the SDK's
// context bookkeeping. It also exports bench_get_buffer_bytes, which prices one
// proxy_get_buffer_bytes host call in whatever host runs it.
export * from "@solo-io/proxy-runtime/proxy";
import { Context, FilterStatusValues, RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { getContext } from "@solo-io/proxy-runtime/runtime";
import { proxy_get_buffer_bytes } from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";

class BenchRoot extends RootContext {
  createContext(contextId: u32): Context {
    return new BenchContext(contextId, this);
  }
  onConfigure(configurationSize: u32): bool {
    return true;
  }
}

class BenchContext extends Context {
  onNewConnection(): FilterStatusValues {
    return FilterStatusValues.Continue;
  }
  onDownstreamData(size: usize, end: bool): FilterStatusValues {
    return FilterStatusValues.Continue;
  }
  onUpstreamData(size: usize, end: bool): FilterStatusValues {
    return FilterStatusValues.Continue;
  }
  onDownstreamConnectionClose(t: u32): void {}
  onUpstreamConnectionClose(t: u32): void {}
  onLog(): void {}
  onDone(): bool {
    return true;
  }
  onDelete(): void {}
}

registerRootContext((contextId: u32): RootContext => new BenchRoot(contextId), "picoseg");

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_new_connection(contextId: u32): u32 {
  return getContext(contextId).onNewConnection();
}
export function proxy_on_downstream_data(contextId: u32, size: u32, end: u32): u32 {
  return getContext(contextId).onDownstreamData(size, end != 0);
}
export function proxy_on_upstream_data(contextId: u32, size: u32, end: u32): u32 {
  return getContext(contextId).onUpstreamData(size, end != 0);
}
export function proxy_on_downstream_connection_close(contextId: u32, peer: u32): void {}
export function proxy_on_upstream_connection_close(contextId: u32, peer: u32): void {}

const out: usize = heap.alloc(16);

/** Reads `len` bytes of the downstream buffer `n` times, as a framing header read does; returns the bytes got. */
export function bench_get_buffer_bytes(n: u32, len: u32): u32 {
  let got: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    store<usize>(out, 0);
    proxy_get_buffer_bytes(2, 0, len, out, out + 8);
    let p = load<usize>(out);
    got += load<u32>(out + 8);
    if (p != 0) free(p);
  }
  return got;
}
