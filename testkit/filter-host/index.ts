// A proxy-wasm ABI 0.2.1 host for picoseg's network filter, in the spirit of the
// Go SDK's proxytest: it loads filter/build/picoseg.wasm into Node's WebAssembly
// and plays Envoy's part — contexts, buffers with Envoy's StopIteration/Continue
// semantics, properties, shared data with CAS, metrics, logs, a clock we control
// and ticks. It is for speed and determinism, never a substitute for Envoy.
//
//   const host = await FilterHost.start({ config, logLevel: "info", nowMs, wasmPath: DEBUG_WASM, shareWith: otherHost });
//   const c = host.connect({ source: "10.1.2.3:40000", port: 5432, principal, mtls, properties, root });
//   c.fromClient(bytes, { end }) / c.fromServer(bytes)   -> 0 Continue | 1 StopIteration | null (closed)
//   c.rawData(upstream, buffer, reportedSize, end)       -> any size the host might pass (fuzzing)
//   c.closed, c.closedBy, c.closeReason, c.decisions(), c.deliveredToServer, c.deliveredToClient
//   c.heldFromClient / c.heldFromServer: bytes a StopIteration left in Envoy's read buffers
//   c.closeFromClient() / c.closeFromServer(); c.completeHandshake() (with connect({ handshake: "pending" }))
//   host.connectMany(n, i => opts)   host.liveConnections
//   host.advance(ms) fires ticks; host.setTime(ms); host.now()
//   host.addRoot({ config, pluginName }) (a new root context, as on an ECDS update); host.reconfigure(config, root)
//   host.counter(name) (throws if never defined), host.metricNames()
//   host.logs("warn"), host.decisions(), host.clearLogs(), host.setLogLevel(level), host.logCalls, host.logBytes
//   host.memoryBytes(), host.bytesRead, host.hostCalls (per import), host.sharedData(), host.crashed
//   host.failing.add("proxy_get_shared_data") makes that host call fail (fault injection)
//   host.failingAfter.set("proxy_set_buffer_bytes", n): that call succeeds n more times, then fails
//   host.beforeHostCall = (name) => …: runs before each host call (another worker's write between two calls)
//   host.grpcCalls (proxy_grpc_call: cluster, service, method, body, token) until host.answerGrpc(token, status)
//   answers it: 0 delivers a response (proxy_on_grpc_receive), else proxy_on_grpc_close; StartOptions.nodeId is `node.id`
// The API reference is this list; README.md says what the emulator models and what it is for.
export { LogLevel, type LogLevelName } from "./abi.js";
export { toBytes, type Bytes } from "./bytes.js";
export { Connection } from "./connection.js";
export { FilterCrash } from "./filter-crash.js";
export { DEBUG_WASM, RELEASE_WASM } from "./filter-module.js";
export { FilterHost } from "./host.js";
export { SharedStore } from "./shared-store.js";
export type { GrpcCall } from "./grpc-calls.js";
export type { ConnectOptions, DecisionLine, LogEntry, RootHandle, StartOptions } from "./types.js";
