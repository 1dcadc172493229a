// The integration harness: the real-Envoy kit of ./index.ts (Envoy, upstreams, clients, policies;
// no test framework, so benchmarks use it too), plus what only tests use: verdict checks built on
// vitest's expect, a byte exchange through a sidecar, and the filters that check facts about Envoy.
export * from "./index.js";
export * from "./verdicts.js";
export * from "./fact-filters.js";
export * from "./exchange.js";
