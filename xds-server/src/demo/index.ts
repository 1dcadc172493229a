// picoseg demo: the xDS server, real Envoy sidecars, small services and a scripted scenario that
// prints every decision; the demo's PKI. This index is the package's public surface: other
// packages import it and nothing else of it (.dependency-cruiser.cjs).
export { runDemo } from "./run.js";
