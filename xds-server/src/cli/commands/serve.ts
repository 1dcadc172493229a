import type { Command } from "commander";
import { readFileSync } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import type { KubeAccess, KubeControl, KubernetesSource } from "../../kube/index.js";
import { DEFAULT_PEER_TIMEOUT_MS, parsePeerUrls, type PeerOptions } from "../../telemetry/index.js";
import { validatePolicyText, parseDuration } from "../../policy/index.js";
import { defined } from "../../util/index.js";

interface ServeFlags {
  policies?: string;
  kubernetes?: boolean;
  kubeApi?: string;
  kubeconfig?: string;
  kubeNamespace?: string;
  status: boolean;
  leaseNamespace?: string;
  leaseDuration: string;
  replicaId?: string;
  xdsPort: string;
  httpPort: string;
  listen: string;
  wasm?: string;
  remoteWasm?: boolean;
  inlineWasm?: boolean;
  wasmCluster: string;
  wasmUrl?: string;
  minSegments: string;
  drainSeconds: string;
  maxStreamsPerPeer: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  adminTokenFile?: string;
  auditLog?: string;
  auditMaxBytes: string;
  auditSummarySeconds: string;
  reportCluster: string;
  observationsFile?: string;
  observationsWindow: string;
  observationsMaxMib: string;
  peers?: string;
  peerTimeout: string;
  peerCa?: string;
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: not a port: ${text}`);
  return n;
}

/** The directory, or the Kubernetes API (in-cluster, a kubeconfig, or a URL): exactly one. */
function kubeAccess(flags: ServeFlags): KubeAccess | undefined {
  const ways = [flags.kubernetes === true, flags.kubeApi !== undefined, flags.kubeconfig !== undefined].filter(Boolean).length;
  if ((flags.policies !== undefined ? 1 : 0) + ways !== 1) {
    throw new Error("picoseg serve: give exactly one of --policies DIR, --kubernetes, --kubeconfig FILE, --kube-api URL");
  }
  if (flags.kubeconfig !== undefined) return { kind: "kubeconfig", file: flags.kubeconfig };
  if (flags.kubeApi !== undefined) return { kind: "explicit", server: flags.kubeApi };
  if (flags.kubernetes) return { kind: "in-cluster" };
  return undefined;
}

/** --peers, with the trust for HTTPS peers: --peer-ca, else the mesh CA of --client-ca. */
function peerOptions(flags: ServeFlags): PeerOptions | undefined {
  if (flags.peers === undefined) {
    if (flags.peerCa !== undefined) throw new Error("--peer-ca needs --peers");
    return undefined;
  }
  const timeout = Number(flags.peerTimeout);
  if (!(timeout > 0) || !Number.isFinite(timeout)) throw new Error(`--peer-timeout: seconds, > 0: ${flags.peerTimeout}`);
  const caFile = flags.peerCa ?? flags.clientCa;
  return { urls: parsePeerUrls(flags.peers, "--peers"), timeoutMs: timeout * 1000, ...(caFile !== undefined ? { ca: readFileSync(caFile) } : {}) };
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 1) throw new Error(`${flag}: not a number of seconds >= 1: ${text}`);
  return n;
}

/** `picoseg serve`: the xDS server (ADS + ECDS, sotw + delta) and its HTTP side, until a signal. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the xDS server: watch a policy directory and push each proxy its compiled filter config")
    .option("--policies <dir>", "directory of PicoSegment YAML files (watched)")
    .option("--kubernetes", "read PicoSegment custom resources from the cluster's API (in-cluster service account)")
    .option("--kubeconfig <file>", "read PicoSegment custom resources from the API server of this kubeconfig's current context")
    .option("--kube-api <url>", "read PicoSegment custom resources from this API server, unauthenticated (e.g. `kubectl proxy`'s http://127.0.0.1:8001)")
    .option("--kube-namespace <ns>", "with the Kubernetes API: only this namespace")
    .option("--no-status", "with the Kubernetes API: do not write PicoSegment status (nor take the status Lease)")
    .option("--lease-namespace <ns>", "namespace of the status writer's Lease (default: $POD_NAMESPACE, else picoseg-system)")
    .option("--lease-duration <seconds>", "how long a silent status writer keeps the Lease before another replica takes over", "15")
    .option("--replica-id <id>", "this replica's name in the Lease (default: $POD_NAME, else host-pid)")
    .option("--xds-port <port>", "gRPC port (ADS and ECDS); 0 picks a free one", "18000")
    .option("--http-port <port>", "HTTP port (healthz, readyz, metrics, status, the module); 0 picks a free one", "18080")
    .option("--listen <addr>", "address both servers bind to (0.0.0.0 in a cluster)", "127.0.0.1")
    .option("--wasm <path>", "the filter module (default: filter/build/picoseg.wasm of this checkout)")
    .option("--inline-wasm", "send the module's bytes in every filter config: proxies need no file and fetch nothing (what a mesh uses)")
    .option("--remote-wasm", "proxies fetch the module from this server's HTTP side (with its sha256) instead of a local path")
    .option(
      "--wasm-cluster <name>",
      "with --remote-wasm: the Envoy cluster that reaches this server's HTTP side (istio-manifests/envoyfilter.yaml defines picoseg-http)",
      "picoseg-http",
    )
    .option("--wasm-url <url>", "with --remote-wasm: this server's HTTP base URL as proxies name it (default: the address it listens on)")
    .option("--tls-cert <file>", "serve xDS and HTTP over TLS with this certificate (PEM)")
    .option("--tls-key <file>", "its private key (PEM)")
    .option("--client-ca <file>", "with --tls-cert: require client certificates chaining to this CA (mTLS); a proxy's SPIFFE ID must match its node metadata's namespace and service account")
    .option("--admin-token-file <file>", "bearer token (file) that opens /status and /metrics")
    .option("--audit-log <file>", "append the tamper-evident audit trail (JSON Lines, hash-chained) here; a restart continues it (`picoseg audit verify FILE`)")
    .option("--audit-max-bytes <n>", "rotate the audit log to FILE.1, FILE.2, … before it passes this size", String(10 * 1024 * 1024))
    .option("--audit-summary-seconds <s>", "sum the proxies' decisions over this interval into one audit entry", "60")
    .option("--report-cluster <name>", "learning mode: the Envoy cluster proxies reach this server's gRPC port by (picoseg sidecar: xds; istio-manifests: picoseg-xds)", "xds")
    .option("--observations-file <file>", "learning mode: keep the proxies' reports in this JSON Lines file too (read back at start)")
    .option("--observations-window <duration>", "learning mode: how long reports are kept (e.g. 24h, 7d)", "7d")
    .option("--observations-max-mib <n>", "learning mode: MiB of reports kept in memory at most, all workloads together; past it the oldest go first", "256")
    .option(
      "--peers <urls>",
      "learning mode with several replicas: every replica's HTTP base URL (http(s)://host:port,…; this one may be listed); /observations, /proposals, `picoseg learn` and `what-if` then see every replica's proxies",
    )
    .option("--peer-timeout <seconds>", "with --peers: how long a replica may take to answer; one that does not is named in the answer", String(DEFAULT_PEER_TIMEOUT_MS / 1000))
    .option("--peer-ca <file>", "with --peers over HTTPS: the CA that signs the replicas' certificates (default: --client-ca)")
    .option("--drain-seconds <s>", "on SIGTERM: stop taking streams, end the live ones evenly over this long (proxies move to another replica), then exit", "5")
    .option("--max-streams-per-peer <n>", "xDS streams one client address may hold; more are refused (RESOURCE_EXHAUSTED)", "256")
    .option("--min-segments <n>", "refuse a policy state with fewer segments (e.g. every file deleted): the previous one stays in force", "0")
    .action(async (flags: ServeFlags) => {
      const minSegments = Number(flags.minSegments);
      if (!Number.isInteger(minSegments) || minSegments < 0) throw new Error(`--min-segments: not a count: ${flags.minSegments}`);
      const maxStreamsPerPeer = Number(flags.maxStreamsPerPeer);
      if (!Number.isInteger(maxStreamsPerPeer) || maxStreamsPerPeer < 1) throw new Error(`--max-streams-per-peer: not a count: ${flags.maxStreamsPerPeer}`);
      const drainSeconds = Number(flags.drainSeconds);
      if (!(drainSeconds >= 0)) throw new Error(`--drain-seconds: not a duration in seconds: ${flags.drainSeconds}`);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new Error("--tls-cert and --tls-key go together");
      if (flags.clientCa !== undefined && flags.tlsCert === undefined) throw new Error("--client-ca needs --tls-cert and --tls-key");
      const auditMaxBytes = Number(flags.auditMaxBytes);
      if (!Number.isInteger(auditMaxBytes) || auditMaxBytes < 1024) throw new Error(`--audit-max-bytes: a size in bytes, at least 1024: ${flags.auditMaxBytes}`);
      const auditSummary = Number(flags.auditSummarySeconds);
      if (!(auditSummary > 0)) throw new Error(`--audit-summary-seconds: seconds, > 0: ${flags.auditSummarySeconds}`);
      const window = parseDuration(flags.observationsWindow);
      if (!window.ok) throw new Error(`--observations-window: ${window.message}`);
      const observationsMaxMib = Number(flags.observationsMaxMib);
      if (!Number.isInteger(observationsMaxMib) || observationsMaxMib < 1) throw new Error(`--observations-max-mib: a whole number of MiB, at least 1: ${flags.observationsMaxMib}`);
      const peers = peerOptions(flags);
      const access = kubeAccess(flags);
      const leaseDurationMs = seconds(flags.leaseDuration, "--lease-duration") * 1000;
      // Loaded here, not at the top: every other command (and each TAB of shell completion)
      // starts without the Kubernetes client and the server.
      const { loadKubeConfig, startKubeControl, KubernetesSource } = await import("../../kube/index.js");
      const { startXdsServer } = await import("../../server/index.js");
      let kube: { config: KubeConfig; source: KubernetesSource } | undefined;
      if (access) {
        const config = loadKubeConfig(access);
        kube = {
          config,
          source: new KubernetesSource({
            kubeConfig: config,
            ...defined({ namespace: flags.kubeNamespace }),
            validateFile: (file, text) => validatePolicyText(text, file),
          }),
        };
      }
      const server = await startXdsServer({
        ...(flags.auditLog !== undefined ? { audit: { file: flags.auditLog, maxBytes: auditMaxBytes, summaryIntervalMs: auditSummary * 1000 } } : {}),
        policies: kube ? kube.source : flags.policies!,
        observations: {
          report: { cluster: flags.reportCluster },
          windowMs: window.value * 1000,
          maxBytes: observationsMaxMib * 1024 * 1024,
          ...defined({ file: flags.observationsFile }),
        },
        ...(peers ? { peers } : {}),
        host: flags.listen,
        xdsPort: port(flags.xdsPort, "--xds-port"),
        httpPort: port(flags.httpPort, "--http-port"),
        minSegments,
        maxStreamsPerPeer,
        ...(flags.tlsCert !== undefined && flags.tlsKey !== undefined
          ? { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey, ...defined({ clientCaFile: flags.clientCa }) } }
          : {}),
        ...defined({ adminTokenFile: flags.adminTokenFile, wasmPath: flags.wasm }),
        ...(flags.inlineWasm ? { inlineWasm: true } : {}),
        ...(flags.remoteWasm
          ? { remoteWasm: { cluster: flags.wasmCluster, ...(flags.wasmUrl ? { baseUrl: flags.wasmUrl.replace(/\/+$/, "") } : {}) } }
          : {}),
      });
      let control: KubeControl | undefined;
      if (kube && flags.status) {
        control = startKubeControl({
          kubeConfig: kube.config,
          source: kube.source,
          proxies: () => server.status().proxies,
          leaseNamespace: flags.leaseNamespace ?? process.env["POD_NAMESPACE"] ?? "picoseg-system",
          leaseDurationMs,
          // client-go's proportions: retry at about a seventh of the duration.
          retryMs: Math.max(250, Math.round(leaseDurationMs / 7.5)),
          ...defined({ identity: flags.replicaId }),
        });
      }
      // SIGTERM (Kubernetes, a rolling update): drain first. SIGINT (Ctrl-C): stop now.
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        const stop = (s: NodeJS.Signals): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve(s);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      if (signal === "SIGTERM") await server.drain(drainSeconds * 1000);
      await control?.close();
      await server.close();
    });
}
