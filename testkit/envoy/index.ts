// A real Envoy with a generated bootstrap, real loopback upstreams and real TCP/mTLS clients, all
// on 127.0.0.1 with ports chosen at run time and every wait bounded (in the spirit of
// go-control-plane's pkg/test/main). The integration tests and the benchmarks that drive a real
// Envoy (bench/churn) share it; it imports no test framework.
export * from "./certs.js";
export * from "./client.js";
export * from "./envoy.js";
export * from "./ports.js";
export * from "./upstream.js";
export { sleep, waitFor } from "../../xds-server/src/util/wait.js";
export * from "./filter-env.js";
export * from "./policy.js";
export * from "./xds-sidecar.js";
