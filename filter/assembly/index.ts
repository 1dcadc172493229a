// The module's entry: the allocator Envoy calls (hostcalls.ts) and the proxy-wasm callbacks (dispatch.ts).
export { malloc, free } from "./hostcalls";
export * from "./dispatch";
