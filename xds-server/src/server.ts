// Wiring of the xDS server: policy source → ProxyConfigs (compile per proxy) → SnapshotCache
// → gRPC stream servers (ADS + ECDS, sotw + delta) → Envoy; and the HTTP side (health,
// metrics, status, the module). Nothing here knows the protocol or the policy format.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { startAdmin, WASM_PATH, type AdminServer } from "./http/admin.js";
import { XdsMetrics } from "./http/metrics.js";
import { compileForWorkload, validatePolicyText } from "./policy/index.js";
import { ValidatorPool } from "./policy/validator-pool.js";
import { DirectorySource } from "./source/directory.js";
import type { FileValidator, PolicySource, PolicyState, Refusal } from "./source/types.js";
import { SnapshotCache } from "./xds/cache/snapshot-cache.js";
import { ProxyConfigs, type CompileFn } from "./xds/proxy-configs.js";
import { PICOSEG_ECDS_RESOURCE, type WasmModuleSource } from "./xds/resources.js";
import { fanOut, type Callbacks } from "./xds/server/callbacks.js";
import { addXdsServices } from "./xds/server/grpc-services.js";
import { StreamRegistry } from "./xds/server/registry.js";
import { StreamTracker, type PolicyNotice, type RefusedStream, type StatusReport } from "./xds/status.js";
import { loosenings } from "./source/loosened.js";
import { allOf, IdentityBinding, NodeClaims, PeerStreamLimit } from "./xds/claims.js";
import { AuditRecorder } from "./audit/recorder.js";
import { DecisionCounters } from "./decisions/counters.js";
import { buildReport } from "./compliance/report.js";

/** What the console and report say about what the server cannot see of the filters' decisions. */
export const DECISIONS_MISSING =
  "Counts come from the Envoy counters of proxies that announce their loopback admin address (node metadata PICOSEG_ADMIN, as picoseg sidecar and the demo do). " +
  "Not shown, because no channel brings them to the server: each denied connection's source, principal and port (only in the filter's JSON log line in Envoy's log), so there is no live feed of single decisions.";

const RECENT_REFUSALS = 50;
/** An Envoy holds one or two streams; a node agent or NAT may put a few hundred behind one address. */
export const DEFAULT_MAX_STREAMS_PER_PEER = 256;

/** The ECDS resource name sidecars ask for, and what a wildcard subscriber gets. */
export const DEFAULT_RESOURCE_NAME = PICOSEG_ECDS_RESOURCE;

/** filter/build/picoseg.wasm of this checkout (works from src/ via tsx and from dist/). */
export function defaultWasmPath(): string {
  // This file is <root>/xds-server/src/server.ts, or <root>/dist/xds-server/src/server.js.
  const xdsServer = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const parent = path.dirname(xdsServer);
  const root = path.basename(parent) === "dist" ? path.dirname(parent) : parent;
  return path.join(root, "filter", "build", "picoseg.wasm");
}

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
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** A file holding the bearer token that opens /status and /metrics. */
  adminTokenFile?: string;
  /** Streams one peer address may hold (default DEFAULT_MAX_STREAMS_PER_PEER). */
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

export async function startXdsServer(opts: XdsServerOptions): Promise<RunningXdsServer> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log ?? ((line: string) => console.log(line));
  const controlPlaneId = opts.controlPlaneId ?? `picoseg@${process.pid}`;
  const startedAt = Date.now();
  const decisionIntervalMs = opts.decisionIntervalMs ?? 1000;
  const wasmPath = path.resolve(opts.wasmPath ?? defaultWasmPath());
  const tls = opts.tls
    ? {
        cert: readFileSync(opts.tls.certFile),
        key: readFileSync(opts.tls.keyFile),
        ...(opts.tls.clientCaFile !== undefined ? { ca: readFileSync(opts.tls.clientCaFile) } : {}),
      }
    : undefined;
  const adminToken = opts.adminTokenFile !== undefined ? readFileSync(opts.adminTokenFile, "utf8").trim() : undefined;
  if (adminToken === "") throw new Error(`--admin-token-file ${opts.adminTokenFile}: empty`);
  const warning = plaintextWarning(host, tls !== undefined);
  if (warning) log(`picoseg: WARNING: ${warning}`);
  if (opts.remoteWasm && opts.inlineWasm) throw new Error("the module is either remote or inline, not both");
  const moduleBytes = readModule(wasmPath, opts.remoteWasm !== undefined || opts.inlineWasm === true);

  const validators = new ValidatorPool();
  const streams = new StreamRegistry();
  // HTTP goes first: the remote module's URL needs its port. Then content, then gRPC.
  const cache = new SnapshotCache();
  const tracker = new StreamTracker();
  let configs: ProxyConfigs | undefined;
  const metrics = new XdsMetrics(() => configs?.proxyIds().length ?? 0, {
    processMetrics: true,
    sourceStale: () => source?.health?.().stale ?? false,
  });
  const recentRefusals: Refusal[] = [];
  const policyNotices: PolicyNotice[] = [];
  /** The state proxies are served from; a refused state (--min-segments) leaves it in place. */
  let applied: PolicyState | undefined;
  const ready = (): boolean => applied !== undefined;
  const refusedStreams: RefusedStream[] = [];
  let source: PolicySource | undefined;
  const status = (): StatusReport => {
    const st = source?.current();
    return {
      controlPlane: controlPlaneId,
      startedAt,
      ready: ready(),
      policySource: source?.description ?? "",
      policyRevision: st?.revision ?? 0,
      segments: (applied?.segments ?? []).map((s) => `${s.segment.metadata.namespace}/${s.segment.metadata.name}`),
      noSegments: applied !== undefined && applied.segments.length === 0,
      ...(source?.health?.().stale ? { policySourceStale: source.health().reason ?? "stale" } : {}),
      policyNotices: [...policyNotices],
      refusals: [...(st?.refusals ?? [])],
      recentRefusals: [...recentRefusals],
      proxies: configs ? tracker.proxies(configs) : [],
      refusedStreams: [...refusedStreams],
    };
  };
  const admin: AdminServer = await startAdmin(host, opts.httpPort ?? 18080, {
    notReady: () => {
      if (streams.draining) return "draining: shutting down, proxies are moving to another replica";
      if (!ready()) return "policies not loaded yet";
      const h = source?.health?.();
      return h?.stale ? `policy source stale: ${h.reason ?? "unknown reason"}` : undefined;
    },
    status,
    registry: metrics.registry,
    module: () => moduleBytes,
    // Both are set before the first request can arrive (no await between here and there).
    report: (regime) =>
      buildReport({
        controlPlane: controlPlaneId,
        policyRevision: source?.current()?.revision ?? 0,
        segments: applied?.segments ?? [],
        proxies: configs ? tracker.proxies(configs) : [],
        decisions: decisions.proxies(),
        ...(regime ? { regime } : {}),
      }),
    decisions: () => ({
      intervalMs: decisionIntervalMs,
      samples: decisions.samples(),
      proxies: decisions.proxies(),
      missing: DECISIONS_MISSING,
    }),
  }, {
    ...(tls ? { tls } : {}),
    ...(adminToken !== undefined ? { token: adminToken } : {}),
    requireAuth: adminToken !== undefined || tls?.ca !== undefined || !isLoopback(host),
  });
  const httpUrl = `${tls ? "https" : "http"}://${host}:${admin.port}`;

  let module: WasmModuleSource;
  if (opts.remoteWasm) {
    if (!moduleBytes) throw new Error(`--remote-wasm: no module at ${wasmPath}`);
    const base = opts.remoteWasm.baseUrl ?? httpUrl;
    module = { kind: "remote", uri: `${base}${WASM_PATH}`, cluster: opts.remoteWasm.cluster, sha256: moduleBytes.sha256 };
  } else if (opts.inlineWasm && moduleBytes) {
    module = { kind: "inline", bytes: moduleBytes.bytes, sha256: moduleBytes.sha256 };
  } else {
    module = { kind: "local", filename: wasmPath };
  }
  configs = new ProxyConfigs({
    cache,
    compile: opts.compile ?? ((segments, workload, o) => compileForWorkload(segments, workload, o)),
    module,
    defaultResourceNames: opts.defaultResourceNames ?? [DEFAULT_RESOURCE_NAME],
    ...(opts.maxConfigBytes !== undefined ? { maxConfigBytes: opts.maxConfigBytes } : {}),
    onError: (nodeId, message) => log(`picoseg: proxy ${nodeId}: ${message}`),
  });
  const proxyConfigs = configs;
  const decisions = new DecisionCounters({
    proxies: () =>
      proxyConfigs.proxyIds().flatMap((id) => {
        const c = proxyConfigs.describe(id);
        if (!c) return [];
        const admin = c.node.metadata["PICOSEG_ADMIN"];
        return [{ nodeId: id, workload: c.node.workload, streams: c.streams, ...(typeof admin === "string" ? { admin } : {}) }];
      }),
    intervalMs: decisionIntervalMs,
    registry: metrics.registry,
    onDeltas: (d) => audit?.decisions(d),
  });
  const audit = opts.audit
    ? new AuditRecorder(
        opts.audit.file,
        { controlPlane: controlPlaneId, pid: process.pid, policies: typeof opts.policies === "string" ? `dir:${path.resolve(opts.policies)}` : opts.policies.description },
        {
          ...(opts.audit.maxBytes !== undefined ? { maxBytes: opts.audit.maxBytes } : {}),
          ...(opts.audit.summaryIntervalMs !== undefined ? { summaryIntervalMs: opts.audit.summaryIntervalMs } : {}),
          onError: log,
        },
      )
    : undefined;

  source =
    typeof opts.policies === "string"
      ? new DirectorySource(opts.policies, {
          validateFile: opts.validateFile ?? ((file, text) => validatePolicyText(text, file)),
          // Parsing a large file takes hundreds of ms: off the loop that answers probes and proxies.
          ...(opts.validateFile === undefined ? { validateFileAsync: (file: string, text: string) => validators.validate(file, text) } : {}),
          ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
        })
      : opts.policies;
  const policySource = source;
  const notice = (kind: PolicyNotice["kind"], text: string): void => {
    log(`picoseg: ${text}`);
    policyNotices.push({ at: Date.now(), kind, text });
    policyNotices.splice(0, Math.max(0, policyNotices.length - RECENT_REFUSALS));
    metrics.onNotice(kind);
  };
  const minSegments = opts.minSegments ?? 0;
  const apply = (state: PolicyState, fresh: readonly Refusal[]): void => {
    for (const r of fresh) log(`picoseg: refused ${r.text} (previous state of the file stays in force)`);
    if (fresh.length > 0) audit?.policyRefused(fresh);
    recentRefusals.push(...fresh);
    recentRefusals.splice(0, Math.max(0, recentRefusals.length - RECENT_REFUSALS));
    metrics.onPolicy(state, fresh);
    if (state.segments.length < minSegments) {
      notice(
        "below-min-segments",
        `refused a state with ${state.segments.length} segments (--min-segments ${minSegments}); ${applied ? "the previous state stays in force" : "not ready until there are enough"}`,
      );
      audit?.policyHeld(state, `fewer than --min-segments ${minSegments}`);
      return;
    }
    const loosened = loosenings(applied?.segments ?? [], state.segments);
    for (const text of loosened) notice("loosened", text);
    if (state.segments.length === 0 && (applied === undefined || applied.segments.length > 0)) {
      notice("no-segments", "no segments: every selected workload now denies");
    }
    audit?.policyAccepted(state, loosened);
    applied = state;
    metrics.onApplied(state);
    proxyConfigs.setPolicy(state);
  };
  policySource.onChange(apply);

  const grpcServer = new grpc.Server({
    // Envoy keeps its xDS stream open for hours; keepalive notices dead peers.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
  });
  const refusalLog: Callbacks = {
    onStreamRefused(stream, claimed, refusal) {
      log(`picoseg: refused xDS stream from ${stream.peer}${stream.identity ? ` (${stream.identity})` : ""}: ${refusal.message}`);
      refusedStreams.push({
        at: Date.now(),
        nodeId: claimed.id,
        peer: stream.peer,
        ...(stream.identity !== undefined ? { identity: stream.identity } : {}),
        claimed: claimed.workload,
        reason: refusal.reason,
        message: refusal.message,
      });
      refusedStreams.splice(0, Math.max(0, refusedStreams.length - RECENT_REFUSALS));
    },
  };
  addXdsServices(grpcServer, {
    watcher: cache,
    callbacks: fanOut(proxyConfigs, tracker, metrics, refusalLog, ...(audit ? [audit] : [])),
    controlPlaneId,
    registry: streams,
    // Identity first: a stream that may not speak for its node must not claim the node id either.
    admission: allOf(
      new PeerStreamLimit(opts.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER),
      new IdentityBinding({ required: tls?.ca !== undefined }),
      new NodeClaims(),
    ),
  });
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  let xdsPort: number;
  try {
    await policySource.start(); // publishes the initial state through apply()
    xdsPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(`${host}:${opts.xdsPort ?? 18000}`, credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
  } catch (err) {
    await policySource.close();
    grpcServer.forceShutdown();
    await admin.close();
    await validators.close();
    audit?.close();
    throw err;
  }
  decisions.start();

  log(
    `picoseg: xDS on ${host}:${xdsPort} (ADS + ECDS, sotw + delta), HTTP on ${httpUrl}, policies ${policySource.description}, module ${
      module.kind === "local"
        ? module.filename
        : module.kind === "inline"
          ? `inline (${module.bytes.length} bytes, sha256 ${module.sha256.slice(0, 12)})`
          : `${module.uri} via cluster ${module.cluster}`
    }`,
  );

  let closing: Promise<void> | undefined;
  return {
    xdsAddress: `${host}:${xdsPort}`,
    xdsPort,
    httpUrl,
    httpPort: admin.port,
    cache,
    configs: proxyConfigs,
    source: policySource,
    metrics,
    decisions,
    ...(audit ? { audit } : {}),
    status,
    drain: async (ms: number) => {
      log(`picoseg: draining ${streams.size} xDS streams over ${Math.round(ms / 1000)} s`);
      const drained = streams.drain(ms);
      // Stop listening: new connections go to other replicas (GOAWAY to the existing ones).
      const shut = new Promise<void>((r) => grpcServer.tryShutdown(() => r()));
      await drained;
      // Let the last statuses reach their clients before close() cuts what is left.
      await Promise.race([shut, new Promise((r) => setTimeout(r, 1000))]);
    },
    close: () =>
      (closing ??= (async () => {
        await policySource.close();
        // Streams are endless: do not wait for them to finish.
        grpcServer.forceShutdown();
        await decisions.stop();
        await admin.close();
        await validators.close();
        audit?.close();
      })()),
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** Plaintext is for the loopback demo; anywhere else anyone who reaches the port can pose as any proxy. */
export function plaintextWarning(host: string, tls: boolean): string | undefined {
  if (tls || isLoopback(host)) return undefined;
  return `xDS and HTTP are plaintext and unauthenticated on ${host}: any client can claim any workload; give --tls-cert/--tls-key and --client-ca`;
}

function readModule(file: string, required: boolean): { bytes: Uint8Array; sha256: string } | undefined {
  try {
    const bytes = readFileSync(file);
    return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
  } catch (err) {
    if (required) throw new Error(`cannot read the filter module ${file}: ${(err as Error).message}`);
    return undefined;
  }
}
