// The integration harness: tools/envoy-harness (the real Envoy, upstreams, clients, policies),
// plus what only tests use — verdict checks built on vitest's expect, and the Envoy probe filters.
export * from "../../../tools/envoy-harness/index.js";
export * from "./verdicts.js";
export * from "./probe.js";
export * from "./exchange.js";
