// The configurations the data-plane bench compares, each one Envoy with one listener in front of
// the same Go upstream. Bootstraps come from the project's builder (staticBootstrap) and picoseg's
// configurations from its compiler (validatePolicyText + compileForWorkload, what `picoseg
// compile` prints); the plain and native variants take the same listener and swap only the filter
// in front of tcp_proxy, so every configuration differs from (A) by its filters alone.
import { stringify } from "yaml";
import { staticBootstrap, type Bootstrap, type DownstreamTls, type NetworkFilter } from "../../xds-server/src/bootstrap/index.js";
import { filterWasmPath } from "../../xds-server/src/util/index.js";
import { compileForWorkload, validatePolicyText } from "../../xds-server/src/policy/index.js";
import { formatPolicyError } from "../../api/status.js";
import { type PicoSegment, type Rule } from "../../api/picosegment.js";

export type ConfigName = "A" | "B" | "C" | "D" | "E" | "A-TLS" | "C-TLS";

export interface BenchConfig {
  name: ConfigName;
  title: string;
  /** The plaintext or TLS configuration this one is compared against. */
  baseline: ConfigName;
  tls: boolean;
}

export const CONFIGS: readonly BenchConfig[] = [
  { name: "A", title: "plain tcp_proxy", baseline: "A", tls: false },
  { name: "B", title: "picoseg allow-all", baseline: "A", tls: false },
  { name: "C", title: "picoseg, every factor (limits not reached)", baseline: "A", tls: false },
  { name: "D", title: "native rbac + connection_limit + local_ratelimit", baseline: "A", tls: false },
  { name: "E", title: "picoseg doing what (D) does: CIDRs, ports, perSource connections", baseline: "A", tls: false },
  { name: "A-TLS", title: "plain tcp_proxy, mTLS listener", baseline: "A-TLS", tls: true },
  { name: "C-TLS", title: "picoseg every factor + principals, mTLS", baseline: "A-TLS", tls: true },
];

/** The client identity the mTLS runs present. */
export const CLIENT_PRINCIPAL = "spiffe://cluster.local/ns/bench/sa/client";

const WORKLOAD = { namespace: "bench", labels: { app: "bench" }, annotations: {} };
const SEGMENT_NAME = "bench";

/**
 * Every factor picoseg has, with limits the bench never reaches. The traffic is length-prefixed
 * (Postgres-style framing, what the generator sends), sniffs as `unknown`, and comes from
 * 127.0.0.1. Principals only where the listener has mTLS: without TLS a principal rule admits nothing.
 */
function everyFactorRule(port: number, principals: boolean): Rule {
  return {
    name: "every-factor",
    from: {
      ...(principals ? { principals: [CLIENT_PRINCIPAL, "spiffe://cluster.local/ns/ops/*"] } : {}),
      ipBlocks: ["127.0.0.0/8", "10.0.0.0/8", "::1/128"],
      notIpBlocks: ["10.9.0.0/16"],
    },
    ports: [port, "20000-20010"],
    protocols: ["unknown", "postgres"],
    schedule: {
      timezone: "Europe/Berlin",
      windows: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start: "00:00", end: "24:00" }],
    },
    limits: {
      maxBytesIn: "1Ti",
      maxBytesOut: "1Ti",
      maxMessageBytes: "1Mi",
      framing: { type: "lengthPrefixed", offset: 1, width: 4, endian: "big", adjustment: -4 },
      maxDurationSeconds: 86400,
    },
    perSource: { window: "1h", maxBytes: "1Ti", maxConnections: 1_000_000_000, maxDistinctPorts: 2 },
  };
}

/** What (D)'s native filters enforce, as a picoseg rule: the like-for-like comparison with (D). */
function nativeLikeRule(port: number): Rule {
  return {
    name: "like-native",
    from: { ipBlocks: ["127.0.0.0/8", "10.0.0.0/8"], notIpBlocks: ["10.9.0.0/16"] },
    ports: [port, "20000-20010"],
    perSource: { window: "1h", maxConnections: 1_000_000_000 },
  };
}

function compile(rule: Rule, quarantine: boolean): string {
  const seg: PicoSegment = {
    apiVersion: "picoseg.io/v1alpha1",
    kind: "PicoSegment",
    metadata: { name: SEGMENT_NAME, namespace: WORKLOAD.namespace },
    spec: {
      selector: { matchLabels: { ...WORKLOAD.labels } },
      mode: "enforce",
      rules: [rule],
      ...(quarantine ? { quarantine: { strikes: 3, window: "10m", duration: "15m" } } : {}),
    },
  };
  const { segments, errors } = validatePolicyText(stringify(seg), "bench-dataplane.yaml");
  if (errors.length > 0) throw new Error(`invalid bench policy:\n${errors.map(formatPolicyError).join("\n")}`);
  return compileForWorkload(segments, WORKLOAD).config;
}

/** The filter configuration string (what `picoseg compile` prints) of a picoseg configuration. */
export function picosegConfiguration(name: ConfigName, port: number): string | undefined {
  switch (name) {
    case "B":
      return compile({ name: "allow-all" }, false);
    case "C":
      return compile(everyFactorRule(port, false), true);
    case "C-TLS":
      return compile(everyFactorRule(port, true), true);
    case "E":
      return compile(nativeLikeRule(port), false);
    default:
      return undefined;
  }
}

/**
 * Envoy's own C++ filters doing what they and picoseg both can: source CIDRs and the destination
 * port (rbac), a cap on concurrent connections (connection_limit) and a new-connection rate
 * (local_ratelimit), with limits the bench never reaches.
 */
function nativeFilters(port: number): NetworkFilter[] {
  return [
    {
      name: "envoy.filters.network.local_ratelimit",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit",
        stat_prefix: "bench_rl",
        token_bucket: { max_tokens: 1_000_000_000, tokens_per_fill: 1_000_000_000, fill_interval: "1s" },
      },
    },
    {
      name: "envoy.filters.network.connection_limit",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit",
        stat_prefix: "bench_cl",
        max_connections: 1_000_000_000,
      },
    },
    {
      name: "envoy.filters.network.rbac",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC",
        stat_prefix: "bench_rbac",
        rules: {
          action: "ALLOW",
          policies: {
            bench: {
              permissions: [{ or_rules: { rules: [{ destination_port: port }, { destination_port_range: { start: 20000, end: 20011 } }] } }],
              principals: [{
                and_ids: {
                  ids: [
                    { or_ids: { ids: [
                      { direct_remote_ip: { address_prefix: "127.0.0.0", prefix_len: 8 } },
                      { direct_remote_ip: { address_prefix: "10.0.0.0", prefix_len: 8 } },
                    ] } },
                    { not_id: { direct_remote_ip: { address_prefix: "10.9.0.0", prefix_len: 16 } } },
                  ],
                },
              }],
            },
          },
        },
      },
    },
  ];
}

/** The bootstrap of one configuration: admin on a port Envoy picks, one listener on `port`. */
export function bootstrapFor(cfg: BenchConfig, port: number, upstreamPort: number, tls: DownstreamTls | undefined): Bootstrap {
  const configuration = picosegConfiguration(cfg.name, port);
  const bootstrap = staticBootstrap({
    admin: { host: "127.0.0.1", port: 0 },
    wasm: { filename: filterWasmPath(), vmId: `bench_${cfg.name}` },
    configuration: configuration ?? "",
    listeners: [{
      name: `bench_${cfg.name.replace("-", "_")}`,
      listen: { host: "127.0.0.1", port },
      upstream: { host: "127.0.0.1", port: upstreamPort },
      ...(cfg.tls ? { tls } : {}),
    }],
  });
  // Envoy's default circuit breaker allows a cluster 1,024 connections; tcp_proxy resets the rest,
  // and the idle-memory figure holds ~10,000. Raised alike for every configuration.
  for (const c of bootstrap.static_resources.clusters) {
    Object.assign(c, { circuit_breakers: { thresholds: [{ max_connections: 1_000_000, max_pending_requests: 1_000_000, max_requests: 1_000_000 }] } });
  }
  if (configuration === undefined) {
    // Same listener, cluster and transport socket; only the filters in front of tcp_proxy change.
    const chain = bootstrap.static_resources.listeners[0]!.filter_chains[0]!;
    const tcpProxy = chain.filters.filter((f) => f.name === "envoy.filters.network.tcp_proxy");
    chain.filters = cfg.name === "D" ? [...nativeFilters(port), ...tcpProxy] : tcpProxy;
  }
  return bootstrap;
}
