// The proxy-wasm ABI v0.2.1 values the emulator speaks, and the filter's exports it calls.

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;
export type LogLevelName = keyof typeof LogLevel;

/** proxy-wasm WasmResult values used here. */
export const Ok = 0;
export const NotFound = 1;
export const BadArgument = 2;
export const ParseFailure = 4;
export const InvalidMemoryAccess = 6;
export const CasMismatch = 8;
export const InternalFailure = 10;
/** Envoy 1.40 answers it for proxy_continue_stream(3). */
export const Unimplemented = 12;

export const BUFFER_DOWNSTREAM = 2;
export const BUFFER_UPSTREAM = 3;
export const BUFFER_PLUGIN_CONFIG = 7;
export const BUFFER_VM_CONFIG = 6;

/** What the host calls in the filter module. */
export type Exports = {
  memory: WebAssembly.Memory;
  malloc: (size: number) => number;
  proxy_on_context_create: (id: number, parent: number) => void;
  proxy_on_vm_start: (id: number, size: number) => number;
  proxy_on_configure: (id: number, size: number) => number;
  proxy_on_tick: (id: number) => void;
  proxy_on_new_connection: (id: number) => number;
  proxy_on_downstream_data: (id: number, size: number, end: number) => number;
  proxy_on_upstream_data: (id: number, size: number, end: number) => number;
  proxy_on_downstream_connection_close: (id: number, peer: number) => void;
  proxy_on_upstream_connection_close: (id: number, peer: number) => void;
  proxy_on_done: (id: number) => number;
  proxy_on_log: (id: number) => void;
  proxy_on_delete: (id: number) => void;
  proxy_on_grpc_receive: (id: number, token: number, size: number) => void;
  proxy_on_grpc_close: (id: number, token: number, status: number) => void;
};
