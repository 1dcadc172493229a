// Binds the stream handlers to the two gRPC services Envoy may use for ECDS: the Aggregated
// Discovery Service (one stream for every type) and the standalone Extension Config Discovery
// Service. Both exist in state-of-the-world and delta flavours.
import * as grpc from "@grpc/grpc-js";
import { loadServices } from "../protos.js";
import type { ConfigWatcher } from "../cache/types.js";
import type { XdsProtocol, XdsService } from "../../../../api/status.js";
import { deltaRequests } from "./delta.js";
import type { DeltaDiscoveryRequest, DiscoveryRequest, DiscoveryResponse } from "./messages.js";
import { sotwRequests } from "./sotw.js";
import { XdsStream, type RequestHandler, type StreamRequest, type StreamServerOptions } from "./xds-stream.js";

type Sotw = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
/** Delta responses leave as bytes marshaled by delta-response-bytes.ts. */
type Delta = grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>;

export function addXdsServices(server: grpc.Server, opts: StreamServerOptions): void {
  const loaded = loadServices();
  const ads = passMarshaledResponses(loaded.ads, "DeltaAggregatedResources");
  const ecds = passMarshaledResponses(loaded.ecds, "DeltaExtensionConfigs");
  server.addService(ads, {
    StreamAggregatedResources: (call: Sotw) => serve(call, "ads", "sotw", opts, sotwRequests),
    DeltaAggregatedResources: (call: Delta) => serve(call, "ads", "delta", opts, deltaRequests),
  });
  server.addService(ecds, {
    StreamExtensionConfigs: (call: Sotw) => serve(call, "ecds", "sotw", opts, sotwRequests),
    DeltaExtensionConfigs: (call: Delta) => serve(call, "ecds", "delta", opts, deltaRequests),
    // A one-shot REST-style fetch makes no sense for a per-connection push model.
    FetchExtensionConfigs: (_call: unknown, callback: grpc.sendUnaryData<DiscoveryResponse>) =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: "picoseg serves ECDS over streams only" }),
  });
}

/** `method`'s responses are already marshaled: grpc-js sends the bytes as they are. */
function passMarshaledResponses(service: grpc.ServiceDefinition, method: string): grpc.ServiceDefinition {
  const m = service[method];
  if (!m) throw new Error(`proto service has no method ${method}`);
  return { ...service, [method]: { ...m, responseSerialize: (bytes: Buffer): Buffer => bytes } };
}

/** One stream of either flavour: the shared plumbing (xds-stream.ts) driven by the protocol's handler. */
function serve<Req extends StreamRequest, Res>(
  call: grpc.ServerDuplexStream<Req, Res>,
  service: XdsService,
  protocol: XdsProtocol,
  opts: StreamServerOptions,
  requests: (stream: XdsStream<Req, Res>, watcher: ConfigWatcher) => RequestHandler<Req>,
): void {
  const stream = new XdsStream(call, service, protocol, opts);
  stream.run(requests(stream, opts.watcher));
}
