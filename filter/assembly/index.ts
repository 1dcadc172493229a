// The module's entry: the allocator Envoy calls and the proxy-wasm callbacks (dispatch.ts).
export { malloc, free } from "./alloc";
export * from "./dispatch";
