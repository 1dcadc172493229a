// Envoy for picoseg: where the installed binary is, the bootstraps that load the filter, running it,
// and reading the filter's decision lines from its log.
export * from "./bootstrap.js";
export * from "./decision.js";
export * from "./install.js";
export * from "./process.js";
