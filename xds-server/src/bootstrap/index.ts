// Envoy as picoseg runs it: the installed binary, the bootstraps that load the filter (static, or
// fed by ECDS as a sidecar), running it, and reading its admin API. This index is the package's
// public surface: other packages import it and nothing else of it (.dependency-cruiser.cjs).
export { activeListenerPorts, fetchStats, parseStats, readAdminAddress, waitEnvoyReady, type WaitReadyOptions } from "./admin.js";
export { type ApiConfigSource, type Bootstrap, type Cluster, type ConfigSource, type DownstreamTls, type HostPort, type Listener, type ListenerSpec, type MetadataValue, type NetworkFilter, type NodeIdentity, parseHostPort, picosegWasmFilterConfig, sidecarBootstrap, type SidecarBootstrapOptions, type SocketAddress, staticBootstrap, type StaticBootstrapOptions, toYaml, type TypedConfig, type WasmModule, XDS_CLUSTER, type XdsApiType, type XdsTls } from "./bootstrap.js";
export { envoyBinaryPath, EnvoyNotInstalledError } from "./install.js";
export { exitCodeOf, runEnvoyForeground } from "./process.js";
