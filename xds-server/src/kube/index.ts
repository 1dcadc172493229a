// Kubernetes: the API client, the PicoSegment informer as a policy source, the Lease that elects
// the status writer, and the status it writes. This index is the package's public surface: other
// packages import it and nothing else of it (.dependency-cruiser.cjs).
export { type KubeAccess, loadKubeConfig } from "./client.js";
export { type KubeControl, startKubeControl } from "./controller.js";
export { KubernetesSource } from "./source.js";
export { type ClusterServer, findClusterServer } from "./server-access.js";
