// What startXdsServer (server.ts) takes and what it returns: the serve command's options, and the
// running server's handles (tests and the demo reach the cache, the source and status through them).
import type { AuditRecorder } from "../audit/index.js";
import type { DecisionCounters, PeerOptions, ObservationStore } from "../telemetry/index.js";
import type { ReportChannel } from "../policy/index.js";
import type { TlsFiles } from "../util/index.js";
import type { XdsMetrics } from "../admin/index.js";
import type { FileValidator, PolicySource } from "../source/index.js";
import type { SnapshotCache } from "../xds/index.js";
import type { ProxyConfigs, CompileFn } from "../push/index.js";
import type { StatusReport } from "../../../api/status.js";

export interface XdsServerOptions {
  /** A policy directory to watch, or any PolicySource. */
  policies: string | PolicySource;
  /** Default: policy/compile.ts compileForWorkload. */
  compile?: CompileFn;
  /** Per-file validation for a directory source (default: policy/load.ts). */
  validateFile?: FileValidator;
  host?: string;
  /** gRPC port; 0 picks a free one. Default 18000. */
  xdsPort?: number;
  /** HTTP port; 0 picks a free one. Default 18080. */
  httpPort?: number;
  /** The filter module; default filter/build/picoseg.wasm of this checkout. */
  wasmPath?: string;
  /**
   * Have proxies fetch the module from this server's HTTP side (with its sha256) through the
   * named Envoy cluster, instead of reading `wasmPath` from their own disk.
   */
  remoteWasm?: { cluster: string; baseUrl?: string };
  /** Carry the module's bytes in every filter config (see WasmModuleSource "inline"); excludes remoteWasm. */
  inlineWasm?: boolean;
  /** Names served to wildcard subscribers. Default ["picoseg"]. */
  defaultResourceNames?: string[];
  debounceMs?: number;
  /**
   * Refuse a policy state with fewer segments (e.g. every file deleted): the previous state
   * stays in force, and the server is not ready until a state has enough. Default 0.
   */
  minSegments?: number;
  /**
   * TLS for both sides (gRPC and HTTP). With `clientCaFile`, clients must present a certificate
   * chaining to it (mTLS), and each xDS stream's node metadata is bound to its SPIFFE ID.
   */
  tls?: TlsFiles;
  /** A file holding the bearer token that opens /status and /metrics. */
  adminTokenFile?: string;
  /** Streams one peer address may hold (default xds/claims.ts DEFAULT_MAX_STREAMS_PER_PEER). */
  maxStreamsPerPeer?: number;
  /** Largest compiled config served to a proxy; default policy/limits.ts MAX_CONFIG_BYTES. */
  maxConfigBytes?: number;
  /** Sent to proxies as control_plane.identifier. */
  controlPlaneId?: string;
  /**
   * Append the tamper-evident audit trail here (audit/chain.ts): policy states accepted and
   * refused, versions sent, ACKs and NACKs, decisions summed per interval.
   */
  audit?: { file: string; maxBytes?: number; summaryIntervalMs?: number };
  /**
   * Learning mode: where learning filters send their reports (the Envoy cluster that reaches this
   * server's gRPC port; default the sidecar bootstrap's xDS cluster), and how the server keeps them.
   */
  observations?: { report?: Partial<ReportChannel>; file?: string; windowMs?: number; maxBytes?: number };
  /**
   * The replicas' admin URLs (observe/peers.ts): /observations and /proposals then answer for
   * every replica's proxies, not only those whose xDS stream this one holds.
   */
  peers?: PeerOptions;
  /** How often proxies that announce PICOSEG_ADMIN have their decision counters read. Default 1000 ms. */
  decisionIntervalMs?: number;
  log?: (line: string) => void;
}

export interface RunningXdsServer {
  /** host:port of the gRPC side. */
  xdsAddress: string;
  xdsPort: number;
  /** http://host:port of the HTTP side. */
  httpUrl: string;
  httpPort: number;
  cache: SnapshotCache;
  configs: ProxyConfigs;
  source: PolicySource;
  metrics: XdsMetrics;
  decisions: DecisionCounters;
  /** Learning mode's reports, per workload. */
  observations: ObservationStore;
  audit?: AuditRecorder;
  status(): StatusReport;
  /**
   * Graceful shutdown's first half: /readyz says draining, no new stream is taken, and the live
   * ones are ended (UNAVAILABLE) evenly over `ms` so that proxies move to another replica a few
   * at a time. close() then stops the rest.
   */
  drain(ms: number): Promise<void>;
  close(): Promise<void>;
}
