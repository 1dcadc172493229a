// Envoy for picoseg: where the installed binary is, the bootstraps that load the filter, running it,
// reading the filter's decision lines from its log, and reading Envoy through its admin API.
export * from "./admin.js";
export * from "./bootstrap.js";
export * from "./install.js";
export * from "./process.js";
export { filterWasmPath, repoRoot } from "../util/repo.js";
