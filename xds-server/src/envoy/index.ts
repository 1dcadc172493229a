// Envoy for picoseg: where the installed binary is, the bootstraps that load the filter, and running it.
export * from "./bootstrap.js";
export * from "./install.js";
export * from "./process.js";
