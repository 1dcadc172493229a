// Envoy bootstraps for the picoseg filter, as plain objects (serialize with toYaml/JSON.stringify).
// Two shapes share one listener layout — tcp_proxy to one upstream, the Wasm filter in front of it:
//   - static: the filter's configuration string is inlined (integration tests, `picoseg compile` users);
//   - sidecar: the filter's configuration arrives by ECDS from the xDS server (`picoseg sidecar`).
// The builders are pure: no file system, no clock, no randomness; the same options give the same object.
import { isIP } from "node:net";
import { stringify } from "yaml";
import { PICOSEG_ECDS_RESOURCE, PICOSEG_ROOT_ID, WASM_NETWORK_FILTER_TYPE, WASM_RUNTIME } from "../../../api/resources.js";
import { defined } from "../util/index.js";

const TCP_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const DOWNSTREAM_TLS_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const UPSTREAM_TLS_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
const HTTP_PROTOCOL_OPTIONS_TYPE_URL = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const STRING_VALUE_TYPE_URL = "type.googleapis.com/google.protobuf.StringValue";

export interface HostPort {
  host: string;
  port: number;
}

/** "HOST:PORT" or "[V6]:PORT" → HostPort; throws on anything else. */
export function parseHostPort(text: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`expected HOST:PORT, got "${text}"`);
  }
  return { host: m[1], port };
}

/** Files for downstream mTLS: the listener presents cert/key and requires a client cert signed by ca. */
export interface DownstreamTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** The Wasm module and VM the filter runs in. */
export interface WasmModule {
  /** Absolute path of picoseg.wasm. */
  filename: string;
  /** VM id; filters with the same id and module share one VM per worker thread. Default "picoseg". */
  vmId?: string;
}

export interface ListenerSpec {
  /** Listener name, also its stat prefix. Default "picoseg_inbound_<port>". */
  name?: string;
  listen: HostPort;
  upstream: HostPort;
  tls?: DownstreamTls;
  /** Static bootstraps only: this listener's own filter configuration (default: the bootstrap's). */
  configuration?: string;
  /** Static bootstraps only: this listener's own VM id, to isolate its filter state (shared data). */
  vmId?: string;
  /**
   * Hand each new connection to the worker with the fewest (Envoy's exact_balance, without
   * SO_REUSEPORT) instead of letting the kernel hash it: tests use it to spread one source's
   * connections over every worker thread for sure.
   */
  exactBalance?: boolean;
  /**
   * Listen on an IPv6 socket that also takes IPv4 (`socket_address.ipv4_compat`): with `listen`
   * `::ffff:127.0.0.1`, IPv4 clients arrive as IPv4-mapped IPv6 sources (`[::ffff:a.b.c.d]:p`),
   * as on a dual-stack pod.
   */
  ipv4Compat?: boolean;
  /**
   * When tcp_proxy connects upstream: "immediate" (at accept, Envoy's default and what Istio's
   * listeners do) or "afterTlsHandshake" (only once downstream mTLS is established). Default:
   * afterTlsHandshake with `tls`, else immediate.
   */
  upstreamConnect?: "immediate" | "afterTlsHandshake";
}

/** Identity sent in the xDS node; the metadata keys are those an Istio sidecar sends. */
export interface NodeIdentity {
  id: string;
  cluster: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  serviceAccount?: string;
  workloadName?: string;
  /**
   * "IP:PORT" of this Envoy's admin API on loopback, sent as node metadata PICOSEG_ADMIN: the xDS
   * server on the same machine reads the filter's decision counters there (decisions/counters.ts).
   */
  adminAddress?: string;
}

export interface StaticBootstrapOptions {
  admin: HostPort;
  /** One or more listeners, each with its own upstream, all running the same filter configuration. */
  listeners: ListenerSpec[];
  wasm: WasmModule;
  /** Exactly the filter's plugin configuration string (filter/CONFIG.md). */
  configuration: string;
  node?: NodeIdentity;
}

export type XdsApiType = "GRPC" | "DELTA_GRPC";

export interface SidecarBootstrapOptions {
  admin: HostPort;
  listener: ListenerSpec;
  /**
   * More inbound ports on the listener's address, as a pod's sidecar captures every inbound port:
   * each a listener "picoseg_inbound_<port>" with the same ECDS filter and the same upstream.
   */
  extraPorts?: number[];
  node: NodeIdentity;
  xds: HostPort;
  /** State-of-the-world or incremental xDS. Default GRPC. */
  api?: XdsApiType;
  /** Ask for the filter over the aggregated stream (ADS) rather than the standalone ECDS service. */
  ads?: boolean;
  /**
   * How long the listener waits for the first filter config before it starts accepting anyway
   * (and, having no config, closes every connection). Envoy's default is 15 s.
   */
  initialFetchTimeoutSeconds?: number;
  /**
   * TLS to the xDS server: its certificate must chain to `caFile`; with `certFile`/`keyFile` the
   * sidecar presents a client certificate (mTLS), whose SPIFFE ID the server binds the node
   * metadata to. In a mesh these are the workload's Istio-issued files.
   */
  xdsTls?: XdsTls;
}

export interface XdsTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
  /** SNI, and the name the server's certificate must carry (default: none checked beyond the CA). */
  serverName?: string;
}

// ---- Envoy API shapes (only the fields picoseg sets; names as in the v3 protos) ----

export interface SocketAddress {
  socket_address: { address: string; port_value: number; ipv4_compat?: boolean };
}
export interface TypedConfig {
  "@type": string;
  [field: string]: unknown;
}
export interface ConfigSource {
  resource_api_version: "V3";
  initial_fetch_timeout?: string;
  ads?: Record<string, never>;
  api_config_source?: ApiConfigSource;
}
export interface ApiConfigSource {
  api_type: XdsApiType;
  transport_api_version: "V3";
  grpc_services: Array<{ envoy_grpc: { cluster_name: string } }>;
  set_node_on_first_message_only?: boolean;
}
export interface NetworkFilter {
  name: string;
  typed_config?: TypedConfig;
  config_discovery?: {
    config_source: ConfigSource;
    type_urls: string[];
    apply_default_config_without_warming?: boolean;
  };
}
export interface Listener {
  name: string;
  address: SocketAddress;
  enable_reuse_port?: boolean;
  connection_balance_config?: { exact_balance: Record<string, never> };
  filter_chains: Array<{
    filters: NetworkFilter[];
    transport_socket?: { name: string; typed_config: TypedConfig };
  }>;
}
export interface Cluster {
  name: string;
  type: "STATIC" | "STRICT_DNS";
  connect_timeout: string;
  load_assignment: {
    cluster_name: string;
    endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: SocketAddress } }> }>;
  };
  typed_extension_protocol_options?: Record<string, TypedConfig>;
  transport_socket?: { name: string; typed_config: TypedConfig };
}
export type MetadataValue = string | Record<string, string>;
export interface Bootstrap {
  node?: { id: string; cluster: string; metadata?: Record<string, MetadataValue> };
  admin: { address: SocketAddress };
  static_resources: { listeners: Listener[]; clusters: Cluster[] };
  dynamic_resources?: { ads_config: ApiConfigSource };
}

// ---- builders ----

function socketAddress(hp: HostPort): SocketAddress {
  return { socket_address: { address: hp.host, port_value: hp.port } };
}

function listenerName(spec: ListenerSpec): string {
  return spec.name ?? `picoseg_inbound_${spec.listen.port}`;
}

function upstreamClusterName(spec: ListenerSpec): string {
  return `upstream_${listenerName(spec)}`;
}

function cluster(name: string, target: HostPort, extra?: Partial<Cluster>): Cluster {
  return {
    name,
    // An IP literal needs no resolver; a host name is resolved (and re-resolved) by Envoy.
    type: isIP(target.host) ? "STATIC" : "STRICT_DNS",
    connect_timeout: "2s",
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(target) } }] }],
    },
    ...extra,
  };
}

/** The `envoy.extensions.filters.network.wasm.v3.Wasm` message for the picoseg filter (also ECDS's payload). */
export function picosegWasmFilterConfig(wasm: WasmModule, configuration: string): TypedConfig {
  return {
    "@type": WASM_NETWORK_FILTER_TYPE,
    config: {
      name: PICOSEG_ROOT_ID,
      root_id: PICOSEG_ROOT_ID,
      vm_config: {
        vm_id: wasm.vmId ?? "picoseg",
        runtime: WASM_RUNTIME,
        code: { local: { filename: wasm.filename } },
      },
      configuration: { "@type": STRING_VALUE_TYPE_URL, value: configuration },
    },
  };
}

function tcpProxyFilter(spec: ListenerSpec, upstreamCluster: string): NetworkFilter {
  return {
    name: "envoy.filters.network.tcp_proxy",
    typed_config: {
      "@type": TCP_PROXY_TYPE_URL,
      stat_prefix: listenerName(spec),
      cluster: upstreamCluster,
      // With downstream mTLS, connect upstream only once the handshake is done: Envoy runs network
      // filters' onNewConnection before it, when the peer's principal is still unknown, and a
      // server-first upstream (MySQL greets on connect) would otherwise speak to a peer picoseg has
      // not admitted yet. Client bytes wait in the socket until then (no early data is buffered).
      ...((spec.upstreamConnect ?? (spec.tls ? "afterTlsHandshake" : "immediate")) === "afterTlsHandshake"
        ? { upstream_connect_mode: "ON_DOWNSTREAM_TLS_HANDSHAKE", max_early_data_bytes: 0 }
        : {}),
    },
  };
}

function downstreamTls(tls: DownstreamTls): { name: string; typed_config: TypedConfig } {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": DOWNSTREAM_TLS_TYPE_URL,
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
        validation_context: { trusted_ca: { filename: tls.caFile } },
      },
    },
  };
}

function upstreamTls(tls: XdsTls): { name: string; typed_config: TypedConfig } {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": UPSTREAM_TLS_TYPE_URL,
      ...defined({ sni: tls.serverName }),
      common_tls_context: {
        // gRPC servers negotiate HTTP/2 by ALPN.
        alpn_protocols: ["h2"],
        ...(tls.certFile !== undefined && tls.keyFile !== undefined
          ? { tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }] }
          : {}),
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          ...(tls.serverName !== undefined ? { match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: tls.serverName } }] } : {}),
        },
      },
    },
  };
}

function listener(spec: ListenerSpec, picoseg: NetworkFilter, upstreamCluster = upstreamClusterName(spec)): Listener {
  return {
    name: listenerName(spec),
    address: spec.ipv4Compat
      ? { socket_address: { ...socketAddress(spec.listen).socket_address, ipv4_compat: true } }
      : socketAddress(spec.listen),
    ...(spec.exactBalance ? { enable_reuse_port: false, connection_balance_config: { exact_balance: {} } } : {}),
    filter_chains: [
      {
        filters: [picoseg, tcpProxyFilter(spec, upstreamCluster)],
        ...(spec.tls ? { transport_socket: downstreamTls(spec.tls) } : {}),
      },
    ],
  };
}

/** Istio's node metadata keys, so the xDS server reads a picoseg sidecar and an Istio sidecar alike. */
function nodeOf(node: NodeIdentity): NonNullable<Bootstrap["node"]> {
  const metadata: Record<string, MetadataValue> = {};
  if (node.namespace !== undefined) metadata["NAMESPACE"] = node.namespace;
  if (node.labels !== undefined) metadata["LABELS"] = { ...node.labels };
  if (node.annotations !== undefined) metadata["ANNOTATIONS"] = { ...node.annotations };
  if (node.serviceAccount !== undefined) metadata["SERVICE_ACCOUNT"] = node.serviceAccount;
  if (node.workloadName !== undefined) metadata["WORKLOAD_NAME"] = node.workloadName;
  if (node.adminAddress !== undefined) metadata["PICOSEG_ADMIN"] = node.adminAddress;
  return { id: node.id, cluster: node.cluster, metadata };
}

/** A bootstrap whose listeners run the picoseg filter with an inlined configuration string. */
export function staticBootstrap(opts: StaticBootstrapOptions): Bootstrap {
  if (opts.listeners.length === 0) throw new Error("staticBootstrap: at least one listener");
  const filterFor = (l: ListenerSpec): NetworkFilter => ({
    name: "envoy.filters.network.wasm",
    typed_config: picosegWasmFilterConfig(
      l.vmId !== undefined ? { ...opts.wasm, vmId: l.vmId } : opts.wasm,
      l.configuration ?? opts.configuration,
    ),
  });
  return {
    ...(opts.node ? { node: nodeOf(opts.node) } : {}),
    admin: { address: socketAddress(opts.admin) },
    static_resources: {
      listeners: opts.listeners.map((l) => listener(l, filterFor(l))),
      clusters: opts.listeners.map((l) => cluster(upstreamClusterName(l), l.upstream)),
    },
  };
}

/** The cluster name the sidecar's xDS stream uses. */
export const XDS_CLUSTER = "xds";

/**
 * A sidecar bootstrap: the filter's configuration comes from the xDS server by ECDS, under the name
 * PICOSEG_ECDS_RESOURCE. There is deliberately no default config: until the first config arrives the
 * listener warms, and once initial_fetch_timeout passes without one Envoy closes every connection
 * (fail closed), which the filter's own `no-config` would also do.
 */
export function sidecarBootstrap(opts: SidecarBootstrapOptions): Bootstrap {
  const api = opts.api ?? "GRPC";
  const apiConfigSource: ApiConfigSource = {
    api_type: api,
    transport_api_version: "V3",
    grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
  };
  const timeout = opts.initialFetchTimeoutSeconds;
  const configSource: ConfigSource = {
    resource_api_version: "V3",
    ...(timeout !== undefined ? { initial_fetch_timeout: `${timeout}s` } : {}),
    ...(opts.ads ? { ads: {} } : { api_config_source: apiConfigSource }),
  };
  // A fresh object per listener: the YAML writer would turn a shared one into anchors and aliases.
  const filter = (): NetworkFilter => ({
    name: PICOSEG_ECDS_RESOURCE,
    config_discovery: { config_source: structuredClone(configSource), type_urls: [WASM_NETWORK_FILTER_TYPE] },
  });
  const upstream = upstreamClusterName(opts.listener);
  const extra = (opts.extraPorts ?? []).map((port) =>
    listener({ ...opts.listener, name: `picoseg_inbound_${port}`, listen: { host: opts.listener.listen.host, port } }, filter(), upstream));
  const xdsCluster = cluster(XDS_CLUSTER, opts.xds, {
    // gRPC needs HTTP/2 to the xDS server.
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": HTTP_PROTOCOL_OPTIONS_TYPE_URL,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    ...(opts.xdsTls ? { transport_socket: upstreamTls(opts.xdsTls) } : {}),
  });
  return {
    node: nodeOf(opts.node),
    admin: { address: socketAddress(opts.admin) },
    static_resources: {
      listeners: [listener(opts.listener, filter()), ...extra],
      clusters: [cluster(upstream, opts.listener.upstream), xdsCluster],
    },
    ...(opts.ads ? { dynamic_resources: { ads_config: apiConfigSource } } : {}),
  };
}

/**
 * YAML text of a bootstrap, as Envoy's `-c FILE.yaml` reads it. Every string value is double-quoted:
 * Envoy's YAML reader follows YAML 1.1, where a plain `n`, `no`, `on` or `y` is a boolean, so a node
 * id or label value like that would otherwise fail to load (or change meaning).
 */
export function toYaml(bootstrap: Bootstrap): string {
  return stringify(bootstrap, { lineWidth: 0, defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}
