// The bootstrap builders: what Envoy is told, field by field (the shapes docs/design.md's
// "Loading the filter into Envoy" fixes), without starting Envoy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  EnvoyNotInstalledError,
  envoyBinaryPath,
  exitCodeOf,
  parseHostPort,
  sidecarBootstrap,
  staticBootstrap,
  toYaml,
  type SidecarBootstrapOptions,
} from "../../xds-server/src/bootstrap/index.js";
import { PICOSEG_ECDS_RESOURCE } from "../../api/resources.js";
import { parseKeyValues, sidecarBootstrapFromFlags } from "../../xds-server/src/cli/commands/sidecar.js";
import { WASM_NETWORK_FILTER_TYPE } from "../../api/resources.js";

const CONFIG = "picoseg 1\nsegment a/b enforce\nrule r\nport 5432 5432\nend\n";

function sidecarOpts(over: Partial<SidecarBootstrapOptions> = {}): SidecarBootstrapOptions {
  return {
    admin: { host: "127.0.0.1", port: 15000 },
    xds: { host: "127.0.0.1", port: 18000 },
    listener: { listen: { host: "127.0.0.1", port: 15006 }, upstream: { host: "127.0.0.1", port: 5432 } },
    node: {
      id: "sidecar~127.0.0.1~db-0.payments~payments.svc.cluster.local",
      cluster: "db.payments",
      namespace: "payments",
      labels: { app: "payments-db" },
      annotations: { "picoseg.io/max-bytes-in": "1Mi" },
      serviceAccount: "db",
      workloadName: "payments-db",
    },
    ...over,
  };
}

describe("staticBootstrap", () => {
  const b = staticBootstrap({
    admin: { host: "127.0.0.1", port: 9901 },
    wasm: { filename: "/abs/picoseg.wasm" },
    configuration: CONFIG,
    listeners: [
      { listen: { host: "127.0.0.1", port: 10000 }, upstream: { host: "127.0.0.1", port: 5432 } },
      { listen: { host: "127.0.0.1", port: 10001 }, upstream: { host: "localhost", port: 6379 } },
    ],
  });

  it("puts the Wasm filter before tcp_proxy on every listener, each with its own upstream cluster", () => {
    expect(b.static_resources.listeners).toHaveLength(2);
    for (const l of b.static_resources.listeners) {
      const names = l.filter_chains[0]!.filters.map((f) => f.name);
      expect(names).toEqual(["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"]);
      const proxy = l.filter_chains[0]!.filters[1]!.typed_config!;
      expect(b.static_resources.clusters.map((c) => c.name)).toContain(proxy["cluster"]);
    }
    expect(b.static_resources.listeners[0]!.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 10000 });
  });

  it("loads picoseg.wasm in V8 under root_id picoseg with the configuration string verbatim", () => {
    const wasm = b.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config!;
    expect(wasm["@type"]).toBe(WASM_NETWORK_FILTER_TYPE);
    expect(wasm["config"]).toEqual({
      name: "picoseg",
      root_id: "picoseg",
      vm_config: { vm_id: "picoseg", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: "/abs/picoseg.wasm" } } },
      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: CONFIG },
    });
  });

  it("resolves a host-name upstream with DNS and an IP literal statically", () => {
    expect(b.static_resources.clusters.map((c) => c.type)).toEqual(["STATIC", "STRICT_DNS"]);
  });

  it("keeps the configuration string byte-exact through YAML", async () => {
    const { parse } = await import("yaml");
    const back = parse(toYaml(b)) as typeof b;
    const wasm = back.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config!;
    expect((wasm["config"] as { configuration: { value: string } }).configuration.value).toBe(CONFIG);
  });

  it("lets a listener carry its own configuration and VM id", () => {
    const two = staticBootstrap({
      admin: { host: "127.0.0.1", port: 0 },
      wasm: { filename: "/abs/picoseg.wasm" },
      configuration: CONFIG,
      listeners: [
        { listen: { host: "127.0.0.1", port: 1 }, upstream: { host: "127.0.0.1", port: 2 } },
        { listen: { host: "127.0.0.1", port: 3 }, upstream: { host: "127.0.0.1", port: 4 }, configuration: "other", vmId: "iso" },
      ],
    });
    const cfg = (i: number) => two.static_resources.listeners[i]!.filter_chains[0]!.filters[0]!.typed_config!["config"] as {
      vm_config: { vm_id: string }; configuration: { value: string };
    };
    expect([cfg(0).vm_config.vm_id, cfg(0).configuration.value]).toEqual(["picoseg", CONFIG]);
    expect([cfg(1).vm_config.vm_id, cfg(1).configuration.value]).toEqual(["iso", "other"]);
  });

  it("balances a listener's connections exactly over the workers when asked (no SO_REUSEPORT)", () => {
    const b2 = staticBootstrap({
      admin: { host: "127.0.0.1", port: 0 },
      wasm: { filename: "/abs/picoseg.wasm" },
      configuration: CONFIG,
      listeners: [{ listen: { host: "127.0.0.1", port: 1 }, upstream: { host: "127.0.0.1", port: 2 }, exactBalance: true }],
    });
    expect(b2.static_resources.listeners[0]!.enable_reuse_port).toBe(false);
    expect(b2.static_resources.listeners[0]!.connection_balance_config).toEqual({ exact_balance: {} });
    expect(b.static_resources.listeners[0]!.connection_balance_config).toBeUndefined();
  });

  it("refuses a bootstrap without listeners", () => {
    expect(() => staticBootstrap({ admin: { host: "127.0.0.1", port: 0 }, wasm: { filename: "x" }, configuration: "", listeners: [] })).toThrow();
  });
});

describe("sidecarBootstrap", () => {
  it("asks for the filter by ECDS under the agreed name, typed as the Wasm filter, with no default config", () => {
    const b = sidecarBootstrap(sidecarOpts());
    const f = b.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!;
    expect(f.name).toBe(PICOSEG_ECDS_RESOURCE);
    expect(PICOSEG_ECDS_RESOURCE).toBe("picoseg");
    expect(f.typed_config).toBeUndefined();
    expect(f.config_discovery).toEqual({
      config_source: {
        resource_api_version: "V3",
        api_config_source: {
          api_type: "GRPC",
          transport_api_version: "V3",
          grpc_services: [{ envoy_grpc: { cluster_name: "xds" } }],
        },
      },
      type_urls: ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"],
    });
    expect(JSON.stringify(b)).not.toContain("default_config");
    expect(b.dynamic_resources).toBeUndefined();
    expect(b.static_resources.listeners[0]!.filter_chains[0]!.filters[1]!.name).toBe("envoy.filters.network.tcp_proxy");
  });

  it("connects upstream at accept without TLS, or with TLS when asked (Istio's behaviour)", () => {
    const plain = sidecarBootstrap(sidecarOpts()).static_resources.listeners[0]!.filter_chains[0]!.filters[1]!.typed_config!;
    expect(plain["upstream_connect_mode"]).toBeUndefined();
    const istioLike = sidecarBootstrap(sidecarOpts({
      listener: {
        listen: { host: "127.0.0.1", port: 15006 },
        upstream: { host: "127.0.0.1", port: 5432 },
        tls: { certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem" },
        upstreamConnect: "immediate",
      },
    })).static_resources.listeners[0]!.filter_chains[0]!.filters[1]!.typed_config!;
    expect(istioLike["upstream_connect_mode"]).toBeUndefined();
  });

  it("adds one listener per extra inbound port, with the same ECDS filter and the same upstream cluster", () => {
    const b = sidecarBootstrap(sidecarOpts({ extraPorts: [15007] }));
    const [first, extra] = b.static_resources.listeners;
    expect(b.static_resources.listeners.map((l) => l.name)).toEqual(["picoseg_inbound_15006", "picoseg_inbound_15007"]);
    expect(extra!.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 15007 });
    expect(extra!.filter_chains[0]!.filters[0]).toEqual(first!.filter_chains[0]!.filters[0]);
    const tcp = extra!.filter_chains[0]!.filters[1]!.typed_config!;
    expect(tcp["stat_prefix"]).toBe("picoseg_inbound_15007");
    expect(tcp["cluster"]).toBe("upstream_picoseg_inbound_15006");
    expect(b.static_resources.clusters.map((c) => c.name)).toEqual(["upstream_picoseg_inbound_15006", "xds"]);
    expect(toYaml(b)).not.toMatch(/[&*]a\d/); // no YAML anchors or aliases
  });

  it("reaches the xDS server over HTTP/2 on the xds cluster", () => {
    const b = sidecarBootstrap(sidecarOpts());
    const xds = b.static_resources.clusters.find((c) => c.name === "xds")!;
    expect(xds.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 18000 });
    expect(JSON.stringify(xds.typed_extension_protocol_options)).toContain("http2_protocol_options");
  });

  it("with ads, subscribes over the aggregated stream and configures ads_config with the chosen api type", () => {
    const b = sidecarBootstrap(sidecarOpts({ ads: true, api: "DELTA_GRPC", initialFetchTimeoutSeconds: 2 }));
    const cs = b.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.config_discovery!.config_source;
    expect(cs).toEqual({ resource_api_version: "V3", initial_fetch_timeout: "2s", ads: {} });
    expect(b.dynamic_resources!.ads_config.api_type).toBe("DELTA_GRPC");
    expect(b.dynamic_resources!.ads_config.grpc_services).toEqual([{ envoy_grpc: { cluster_name: "xds" } }]);
  });

  it("sends the Istio node metadata keys", () => {
    const b = sidecarBootstrap(sidecarOpts());
    expect(b.node).toEqual({
      id: "sidecar~127.0.0.1~db-0.payments~payments.svc.cluster.local",
      cluster: "db.payments",
      metadata: {
        NAMESPACE: "payments",
        LABELS: { app: "payments-db" },
        ANNOTATIONS: { "picoseg.io/max-bytes-in": "1Mi" },
        SERVICE_ACCOUNT: "db",
        WORKLOAD_NAME: "payments-db",
      },
    });
  });

  it("requires client certificates signed by the given CA when TLS files are given", () => {
    const b = sidecarBootstrap(sidecarOpts({
      listener: {
        listen: { host: "127.0.0.1", port: 15006 },
        upstream: { host: "127.0.0.1", port: 5432 },
        tls: { certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem" },
      },
    }));
    // tcp_proxy waits for the handshake before connecting upstream (the principal is known by then).
    const proxy = b.static_resources.listeners[0]!.filter_chains[0]!.filters[1]!.typed_config!;
    expect(proxy["upstream_connect_mode"]).toBe("ON_DOWNSTREAM_TLS_HANDSHAKE");
    expect(proxy["max_early_data_bytes"]).toBe(0);
    const ts = b.static_resources.listeners[0]!.filter_chains[0]!.transport_socket!;
    expect(ts.name).toBe("envoy.transport_sockets.tls");
    expect(ts.typed_config).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: "/c.pem" }, private_key: { filename: "/k.pem" } }],
        validation_context: { trusted_ca: { filename: "/ca.pem" } },
      },
    });
  });

  it("quotes strings that YAML 1.1 (Envoy's reader) would take for booleans", () => {
    const yaml = toYaml(sidecarBootstrap(sidecarOpts({ node: { id: "n", cluster: "on", labels: { app: "yes" } } })));
    expect(yaml).toContain('id: "n"');
    expect(yaml).toContain('cluster: "on"');
    expect(yaml).toContain('app: "yes"');
  });

  it("is pure: the same options give the same bootstrap", () => {
    expect(toYaml(sidecarBootstrap(sidecarOpts()))).toBe(toYaml(sidecarBootstrap(sidecarOpts())));
  });
});

describe("sidecar flags", () => {
  const base = {
    xds: "127.0.0.1:18000", listen: "127.0.0.1:15006", upstream: "127.0.0.1:5432",
    namespace: "payments", labels: "app=payments-db,tier=db", admin: "127.0.0.1:0", api: "GRPC", logLevel: "info",
  };

  it("derives an Istio-style node id and the workload name from the app label", () => {
    const b = sidecarBootstrapFromFlags(base);
    expect(b.node!.id).toBe("sidecar~127.0.0.1~payments-db-15006.payments~payments.svc.cluster.local");
    expect(b.node!.metadata!["WORKLOAD_NAME"]).toBe("payments-db");
    expect(b.node!.metadata!["LABELS"]).toEqual({ app: "payments-db", tier: "db" });
  });

  it("takes --node-id, --service-account, --annotations, --api and --ads", () => {
    const b = sidecarBootstrapFromFlags({ ...base, nodeId: "n1", serviceAccount: "sa", annotations: "picoseg.io/mode=enforce", api: "delta_grpc", ads: true });
    expect(b.node!.id).toBe("n1");
    expect(b.node!.metadata!["SERVICE_ACCOUNT"]).toBe("sa");
    expect(b.node!.metadata!["ANNOTATIONS"]).toEqual({ "picoseg.io/mode": "enforce" });
    expect(b.dynamic_resources!.ads_config.api_type).toBe("DELTA_GRPC");
  });

  it("announces a known loopback admin address to the server (PICOSEG_ADMIN), never a port 0 or a wider one", () => {
    expect(sidecarBootstrapFromFlags({ ...base, admin: "127.0.0.1:19001" }).node!.metadata!["PICOSEG_ADMIN"]).toBe("127.0.0.1:19001");
    expect(sidecarBootstrapFromFlags({ ...base, admin: "127.0.0.1:0" }).node!.metadata!["PICOSEG_ADMIN"]).toBeUndefined();
    expect(sidecarBootstrapFromFlags({ ...base, admin: "0.0.0.0:19001" }).node!.metadata!["PICOSEG_ADMIN"]).toBeUndefined();
  });

  it("refuses partial TLS flags, a bad api type and malformed labels", () => {
    expect(() => sidecarBootstrapFromFlags({ ...base, tlsCert: "/c.pem" })).toThrow(/go together/);
    expect(() => sidecarBootstrapFromFlags({ ...base, api: "REST" })).toThrow(/GRPC or DELTA_GRPC/);
    expect(() => parseKeyValues("app", "--labels")).toThrow(/k=v/);
  });

  it("--xds-ca/--xds-cert/--xds-key put mTLS (ALPN h2, the CA, the client certificate) on the xds cluster", () => {
    const b = sidecarBootstrapFromFlags({ ...base, xdsCa: "/ca.pem", xdsCert: "/c.pem", xdsKey: "/k.pem", xdsServerName: "picoseg.picoseg-system.svc" });
    const xds = b.static_resources.clusters.find((c) => c.name === "xds")!;
    const tls = xds.transport_socket!.typed_config as unknown as Record<string, unknown> & { common_tls_context: Record<string, unknown> };
    expect(xds.transport_socket!.name).toBe("envoy.transport_sockets.tls");
    expect(tls["@type"]).toBe("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext");
    expect(tls["sni"]).toBe("picoseg.picoseg-system.svc");
    expect(tls.common_tls_context["alpn_protocols"]).toEqual(["h2"]);
    expect(tls.common_tls_context["tls_certificates"]).toEqual([{ certificate_chain: { filename: "/c.pem" }, private_key: { filename: "/k.pem" } }]);
    expect(tls.common_tls_context["validation_context"]).toEqual({
      trusted_ca: { filename: "/ca.pem" },
      match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "picoseg.picoseg-system.svc" } }],
    });
    expect(sidecarBootstrapFromFlags(base).static_resources.clusters.find((c) => c.name === "xds")!.transport_socket).toBeUndefined();
    expect(() => sidecarBootstrapFromFlags({ ...base, xdsCert: "/c.pem" })).toThrow(/go together/);
    expect(() => sidecarBootstrapFromFlags({ ...base, xdsCert: "/c.pem", xdsKey: "/k.pem" })).toThrow(/needs --xds-ca/);
  });

  it("parses HOST:PORT and [V6]:PORT and refuses the rest", () => {
    expect(parseHostPort("127.0.0.1:80")).toEqual({ host: "127.0.0.1", port: 80 });
    expect(parseHostPort("[::1]:15006")).toEqual({ host: "::1", port: 15006 });
    expect(parseHostPort("xds.svc:18000")).toEqual({ host: "xds.svc", port: 18000 });
    expect(() => parseHostPort("127.0.0.1")).toThrow();
    expect(() => parseHostPort("h:70000")).toThrow();
  });
});

describe("installed Envoy lookup", () => {
  it("tells the user to run npm ci when .venv is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-noenv-"));
    try {
      expect(() => envoyBinaryPath(dir)).toThrow(EnvoyNotInstalledError);
      expect(() => envoyBinaryPath(dir)).toThrow(/npm ci/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a child killed by a signal as 128 + signal number", () => {
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, "SIGTERM")).toBe(143);
  });
});
