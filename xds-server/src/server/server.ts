// The serve command's wiring: policy source → PolicyGate (which state is in force) → ProxyConfigs
// (compile per proxy) → SnapshotCache → gRPC stream servers (ADS + ECDS, sotw + delta) → Envoy;
// and the HTTP side (health, metrics, status, report, the module). Nothing here knows the protocol
// or the policy format; each piece lives in the module named for it.
import path from "node:path";
import { AuditRecorder } from "../audit/recorder.js";
import { buildReport } from "../compliance/report.js";
import { DECISIONS_MISSING, DecisionCounters, type ProxyEndpoint } from "../telemetry/decision-counters.js";
import { isLoopback, plaintextWarning, readAdminToken, readTls } from "../util/exposure.js";
import { startAdmin, type AdminServer } from "../admin/server.js";
import { XdsMetrics } from "../admin/metrics.js";
import { compileForWorkload, segmentKey, validatePolicyText } from "../policy/index.js";
import { ValidatorPool } from "../policy/validator-pool.js";
import { DirectorySource } from "../source/directory.js";
import { PolicyGate } from "../source/policy-gate.js";
import type { PolicySource } from "../source/types.js";
import type { RunningXdsServer, XdsServerOptions } from "./options.js";
import { defaultWasmPath, describeModule, moduleSource, readModule } from "../push/module.js";
import { SnapshotCache } from "../xds/cache/snapshot-cache.js";
import { allOf, DEFAULT_MAX_STREAMS_PER_PEER, IdentityBinding, NodeClaims, PeerStreamLimit } from "../xds/claims.js";
import { ProxyConfigs } from "../push/proxy-configs.js";
import { RefusedStreamLog } from "../xds/refused-streams.js";
import { PICOSEG_ECDS_RESOURCE } from "../../../api/resources.js";
import { fanOut } from "../xds/server/callbacks.js";
import { bindGrpc, createGrpcServer } from "../xds/server/grpc-listener.js";
import { addXdsServices } from "../xds/server/grpc-services.js";
import { StreamRegistry } from "../xds/server/registry.js";
import { StreamTracker } from "../xds/tracker.js";
import { type StatusReport } from "../../../api/status.js";
import { ObservationStore } from "../telemetry/store.js";
import { deniedAttempts } from "../telemetry/denials.js";
import { DenialFeed } from "../telemetry/feed.js";
import { addObservationService, ReportingProxies } from "../telemetry/service.js";
import { fleetReports } from "../telemetry/peers.js";
import { workloadProposals } from "../learn/proposals.js";
import { DEFAULT_REPORT_CHANNEL } from "../policy/compile.js";
import type { ReportChannel } from "../policy/types.js";
import { proxyStatuses } from "../push/status.js";

export type { RunningXdsServer, XdsServerOptions } from "./options.js";
export { defaultWasmPath } from "../push/module.js";

export async function startXdsServer(opts: XdsServerOptions): Promise<RunningXdsServer> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log ?? ((line: string) => console.log(line));
  const controlPlaneId = opts.controlPlaneId ?? `picoseg@${process.pid}`;
  const startedAt = Date.now();
  const decisionIntervalMs = opts.decisionIntervalMs ?? 1000;
  const wasmPath = path.resolve(opts.wasmPath ?? defaultWasmPath());
  const tls = readTls(opts.tls);
  const adminToken = readAdminToken(opts.adminTokenFile);
  const warning = plaintextWarning(host, tls !== undefined);
  if (warning) log(`picoseg: WARNING: ${warning}`);
  if (opts.remoteWasm && opts.inlineWasm) throw new Error("the module is either remote or inline, not both");
  const moduleBytes = readModule(wasmPath, opts.remoteWasm !== undefined || opts.inlineWasm === true);

  const validators = new ValidatorPool();
  const streams = new StreamRegistry();
  const observations = new ObservationStore({
    ...(opts.observations?.file !== undefined ? { file: opts.observations.file } : {}),
    ...(opts.observations?.windowMs !== undefined ? { windowMs: opts.observations.windowMs } : {}),
    ...(opts.observations?.maxBytes !== undefined ? { maxBytes: opts.observations.maxBytes } : {}),
    log,
  });
  const reportChannel: ReportChannel = { ...DEFAULT_REPORT_CHANNEL, ...opts.observations?.report };
  const reporting = new ReportingProxies();
  const denialFeed = new DenialFeed();
  // HTTP goes first: the remote module's URL needs its port. Then content, then gRPC.
  const cache = new SnapshotCache();
  const tracker = new StreamTracker();
  const refusedStreams = new RefusedStreamLog(log);
  let configs: ProxyConfigs | undefined;
  let source: PolicySource | undefined;
  const metrics = new XdsMetrics(() => configs?.proxyIds().length ?? 0, {
    processMetrics: true,
    sourceStale: () => source?.health?.().stale ?? false,
  });
  // Created once HTTP listens (the remote module's URL needs its port); until then the HTTP side sees none.
  let gate: PolicyGate | undefined;
  let decisions: DecisionCounters | undefined;
  const status = (): StatusReport => {
    const st = source?.current();
    const applied = gate?.inForce;
    return {
      controlPlane: controlPlaneId,
      startedAt,
      ready: gate?.ready ?? false,
      policySource: source?.description ?? "",
      policyRevision: st?.revision ?? 0,
      segments: (applied?.segments ?? []).map((s) => `${s.segment.metadata.namespace}/${s.segment.metadata.name}`),
      noSegments: applied !== undefined && applied.segments.length === 0,
      ...(source?.health?.().stale ? { policySourceStale: source.health().reason ?? "stale" } : {}),
      policyNotices: gate?.policyNotices() ?? [],
      refusals: [...(st?.refusals ?? [])],
      recentRefusals: gate?.recentRefusals() ?? [],
      proxies: configs ? proxyStatuses(configs, tracker) : [],
      refusedStreams: refusedStreams.list(),
    };
  };
  const admin: AdminServer = await startAdmin(host, opts.httpPort ?? 18080, {
    notReady: () => {
      if (streams.draining) return "draining: shutting down, proxies are moving to another replica";
      if (!gate?.ready) return "policies not loaded yet";
      const h = source?.health?.();
      return h?.stale ? `policy source stale: ${h.reason ?? "unknown reason"}` : undefined;
    },
    status,
    registry: metrics.registry,
    module: () => moduleBytes,
    report: (regime) =>
      buildReport({
        controlPlane: controlPlaneId,
        policyRevision: source?.current()?.revision ?? 0,
        segments: gate?.inForce?.segments ?? [],
        proxies: configs ? proxyStatuses(configs, tracker) : [],
        decisions: decisions?.proxies() ?? [],
        deniedAttempts: (nodeIds) => deniedAttempts(observations.fromNodes(nodeIds, 0)),
        ...(regime ? { regime } : {}),
      }),
    decisions: () => ({
      intervalMs: decisionIntervalMs,
      samples: decisions?.samples() ?? [],
      proxies: decisions?.proxies() ?? [],
      missing: DECISIONS_MISSING,
    }),
    observations: async (query, scope, authorization) => {
      const { reports, peers } = await fleetReports(observations, opts.peers, query, scope, authorization);
      return { ...(query.workload !== undefined ? { workload: query.workload } : {}), since: query.sinceMs, scope, reports, ...(peers ? { peers } : {}) };
    },
    proposals: async (query, authorization) => {
      const { reports, peers } = await fleetReports(observations, opts.peers, query, "fleet", authorization);
      const inForce = gate?.inForce?.segments ?? [];
      return {
        since: query.since,
        from: query.sinceMs,
        margin: query.margin,
        timezone: query.timezone,
        segmentsInForce: inForce.map((s) => segmentKey(s.segment)),
        ...(peers ? { peers } : {}),
        workloads: workloadProposals(reports, { margin: query.margin, timezone: query.timezone }, inForce, peers?.missing ?? []),
      };
    },
    denialFeed: (res) => denialFeed.attach(res),
  }, {
    ...(tls ? { tls } : {}),
    ...(adminToken !== undefined ? { token: adminToken } : {}),
    requireAuth: adminToken !== undefined || tls?.ca !== undefined || !isLoopback(host),
  });
  const httpUrl = `${tls ? "https" : "http"}://${host}:${admin.port}`;

  const module = moduleSource(
    {
      wasmPath,
      bytes: moduleBytes,
      ...(opts.remoteWasm ? { remote: opts.remoteWasm } : {}),
      ...(opts.inlineWasm ? { inline: true } : {}),
    },
    httpUrl,
  );
  const proxyConfigs = new ProxyConfigs({
    cache,
    compile: opts.compile ?? ((segments, workload, o) => compileForWorkload(segments, workload, { ...o, report: reportChannel })),
    module,
    defaultResourceNames: opts.defaultResourceNames ?? [PICOSEG_ECDS_RESOURCE],
    ...(opts.maxConfigBytes !== undefined ? { maxConfigBytes: opts.maxConfigBytes } : {}),
    onError: (nodeId, message) => log(`picoseg: proxy ${nodeId}: ${message}`),
  });
  configs = proxyConfigs;
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
  const counters = new DecisionCounters({
    proxies: () => announcedAdmins(proxyConfigs),
    intervalMs: decisionIntervalMs,
    registry: metrics.registry,
    onDeltas: (d) => audit?.decisions(d),
  });
  decisions = counters;

  const policySource =
    typeof opts.policies === "string"
      ? new DirectorySource(opts.policies, {
          validateFile: opts.validateFile ?? ((file, text) => validatePolicyText(text, file)),
          // Parsing a large file takes hundreds of ms: off the loop that answers probes and proxies.
          ...(opts.validateFile === undefined ? { validateFileAsync: (file: string, text: string) => validators.validate(file, text) } : {}),
          ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
        })
      : opts.policies;
  source = policySource;
  const policyGate = new PolicyGate({
    ...(opts.minSegments !== undefined ? { minSegments: opts.minSegments } : {}),
    observers: [metrics, ...(audit ? [audit] : [])],
    log,
    serve: (state) => proxyConfigs.setPolicy(state),
  });
  gate = policyGate;
  policySource.onChange((state, fresh) => policyGate.offer(state, fresh));

  const grpcServer = createGrpcServer();
  addXdsServices(grpcServer, {
    watcher: cache,
    callbacks: fanOut(proxyConfigs, tracker, metrics, refusedStreams, reporting, ...(audit ? [audit] : [])),
    controlPlaneId,
    registry: streams,
    // Identity first: a stream that may not speak for its node must not claim the node id either.
    admission: allOf(
      new PeerStreamLimit(opts.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER),
      new IdentityBinding({ required: tls?.ca !== undefined }),
      new NodeClaims(),
    ),
  });
  addObservationService(grpcServer, {
    proxies: reporting,
    store: observations,
    registry: metrics.registry,
    requireIdentity: tls?.ca !== undefined,
    onReport: (workload, report) => denialFeed.publish(workload, report),
    log,
  });
  let xdsPort: number;
  try {
    await policySource.start(); // publishes the initial state through the gate
    xdsPort = await bindGrpc(grpcServer, `${host}:${opts.xdsPort ?? 18000}`, tls);
  } catch (err) {
    await policySource.close();
    grpcServer.forceShutdown();
    denialFeed.close();
    await admin.close();
    await validators.close();
    audit?.close();
    throw err;
  }
  counters.start();

  log(
    `picoseg: xDS on ${host}:${xdsPort} (ADS + ECDS, sotw + delta), HTTP on ${httpUrl}, policies ${policySource.description}, module ${describeModule(module)}`,
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
    decisions: counters,
    observations,
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
        await counters.stop();
        denialFeed.close();
        await admin.close();
        await validators.close();
        audit?.close();
      })()),
  };
}

/** The connected proxies that announce a loopback admin address (PICOSEG_ADMIN): their counters can be read. */
function announcedAdmins(configs: ProxyConfigs): ProxyEndpoint[] {
  return configs.nodes().map(({ id, node, streams }) => {
    const admin = node.metadata["PICOSEG_ADMIN"];
    return { nodeId: id, workload: node.workload, streams, ...(typeof admin === "string" ? { admin } : {}) };
  });
}
