// The names Envoy and the server agree on for picoseg's one kind of resource: an ECDS
// `TypedExtensionConfig` wrapping the Wasm network filter (docs/design.md "Loading the filter
// into Envoy"), and where the server's HTTP side serves the filter's module.

export const TYPED_EXTENSION_CONFIG_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
export const WASM_NETWORK_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";

/**
 * The ECDS resource name every sidecar subscribes to for its picoseg filter (xds-server/src/bootstrap/bootstrap.ts
 * asks for it), and what a wildcard subscriber gets. One name for all proxies: the server answers
 * per node (it selects segments from the node's metadata), so the name does not need to carry the
 * workload, and a proxy's bootstrap stays the same whichever segments select it.
 */
export const PICOSEG_ECDS_RESOURCE = "picoseg";

export const PICOSEG_ROOT_ID = "picoseg";
export const WASM_RUNTIME = "envoy.wasm.runtime.v8";

/** The path of the filter's module on the server's HTTP side (remote modules are fetched from it). */
export const WASM_PATH = "/filter/picoseg.wasm";
