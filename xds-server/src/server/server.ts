// The serve command's wiring, and only that: policy source → PolicyGate (which state is in force)
// → ProxyConfigs (compile per proxy) → SnapshotCache → gRPC stream servers (ADS + ECDS, sotw +
// delta) → Envoy; back from the filters: reports → ObservationStore, decision counters; and the
// HTTP side, which reads the running parts through admin/views.ts. Nothing here knows the protocol,
// the policy format or what a page shows; each piece lives in the package named for it.
import path from "node:path";
import { PICOSEG_ECDS_RESOURCE } from "../../../api/resources.js";
import { XdsMetrics, startAdmin, type AdminServer, adminViews, statusReport, type Served } from "../admin/index.js";
import { AuditRecorder } from "../audit/index.js";
import { DEFAULT_REPORT_CHANNEL, compileForWorkload, validatePolicyText, type ReportChannel, ValidatorPool } from "../policy/index.js";
import { defaultWasmPath, describeModule, moduleSource, readModule, ProxyConfigs } from "../push/index.js";
import { DirectorySource, PolicyGate } from "../source/index.js";
import { announcedAdmins, DecisionCounters, DenialFeed, addObservationService, ReportingProxies, ObservationStore } from "../telemetry/index.js";
import { defined, isLoopback, plaintextWarning, readAdminToken, readTls } from "../util/index.js";
import { SnapshotCache, allOf, DEFAULT_MAX_STREAMS_PER_PEER, IdentityBinding, NodeClaims, PeerStreamLimit, RefusedStreamLog, fanOut, bindGrpc, createGrpcServer, addXdsServices, StreamRegistry, StreamTracker } from "../xds/index.js";
import type { RunningXdsServer, XdsServerOptions } from "./options.js";

export type { RunningXdsServer, XdsServerOptions } from "./options.js";
export { defaultWasmPath } from "../push/index.js";

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
    ...defined({ file: opts.observations?.file, windowMs: opts.observations?.windowMs, maxBytes: opts.observations?.maxBytes }),
    log,
  });
  const reportChannel: ReportChannel = { ...DEFAULT_REPORT_CHANNEL, ...opts.observations?.report };
  const reporting = new ReportingProxies();
  const denialFeed = new DenialFeed();
  const cache = new SnapshotCache();
  const tracker = new StreamTracker();
  const refusedStreams = new RefusedStreamLog(log);
  const metrics = new XdsMetrics(() => served.configs?.proxyIds().length ?? 0, {
    processMetrics: true,
    sourceStale: () => served.source?.health?.().stale ?? false,
  });
  // What the HTTP side reads; the gate, the source, the configs and the counters join it below.
  const served: Served = {
    controlPlaneId,
    startedAt,
    registry: metrics.registry,
    streams,
    tracker,
    refusedStreams,
    observations,
    denialFeed,
    decisionIntervalMs,
    ...(opts.peers ? { peers: opts.peers } : {}),
    ...(moduleBytes ? { module: moduleBytes } : {}),
  };
  // HTTP goes first: the remote module's URL needs its port. Then content, then gRPC.
  const admin: AdminServer = await startAdmin(host, opts.httpPort ?? 18080, adminViews(served), {
    ...(tls ? { tls } : {}),
    ...defined({ token: adminToken }),
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
    ...defined({ maxConfigBytes: opts.maxConfigBytes }),
    onError: (nodeId, message) => log(`picoseg: proxy ${nodeId}: ${message}`),
  });
  served.configs = proxyConfigs;
  const audit = opts.audit
    ? new AuditRecorder(
        opts.audit.file,
        { controlPlane: controlPlaneId, pid: process.pid, policies: typeof opts.policies === "string" ? `dir:${path.resolve(opts.policies)}` : opts.policies.description },
        {
          ...defined({ maxBytes: opts.audit.maxBytes, summaryIntervalMs: opts.audit.summaryIntervalMs }),
          onError: log,
        },
      )
    : undefined;
  const counters = new DecisionCounters({
    proxies: () => announcedAdmins(proxyConfigs.nodes()),
    intervalMs: decisionIntervalMs,
    registry: metrics.registry,
    onDeltas: (d) => audit?.decisions(d),
  });
  served.decisions = counters;

  const policySource =
    typeof opts.policies === "string"
      ? new DirectorySource(opts.policies, {
          validateFile: opts.validateFile ?? ((file, text) => validatePolicyText(text, file)),
          // Parsing a large file takes hundreds of ms: off the loop that answers probes and proxies.
          ...(opts.validateFile === undefined ? { validateFileAsync: (file: string, text: string) => validators.validate(file, text) } : {}),
          ...defined({ debounceMs: opts.debounceMs }),
        })
      : opts.policies;
  served.source = policySource;
  const policyGate = new PolicyGate({
    ...defined({ minSegments: opts.minSegments }),
    observers: [metrics, ...(audit ? [audit] : [])],
    log,
    serve: (state) => proxyConfigs.setPolicy(state),
  });
  served.gate = policyGate;
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
    status: () => statusReport(served),
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
