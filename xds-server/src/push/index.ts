// The picoseg half of serving: per proxy, compile the segments that select its workload, wrap the
// result as the ECDS filter resource it asks for, and set it in the cache; the filter's module;
// /status per proxy. This index is the package's public surface: other packages import it and
// nothing else of it (.dependency-cruiser.cjs).
export { type CompileFn } from "./compiler.js";
export { defaultWasmPath, describeModule, moduleSource, readModule } from "./module.js";
export { ProxyConfigs } from "./proxy-configs.js";
export { proxyStatuses } from "./status.js";
