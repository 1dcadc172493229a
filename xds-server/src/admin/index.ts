// The HTTP side: health, readiness, metrics, /status, the report, the learning and decision views,
// describe and proxy-config, the console, and the filter's module; who may read what. This index
// is the package's public surface: other packages import it and nothing else of it
// (.dependency-cruiser.cjs).
export { XdsMetrics } from "./metrics.js";
export { type AdminServer, startAdmin } from "./server.js";
export { adminViews, type Served, statusReport } from "./views.js";
export { type DescribeView, type ProxyConfigView } from "./routes.js";
