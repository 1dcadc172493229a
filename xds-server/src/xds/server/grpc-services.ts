// Binds the stream handlers to the two gRPC services Envoy may use for ECDS: the Aggregated
// Discovery Service (one stream for every type) and the standalone Extension Config Discovery
// Service. Both exist in state-of-the-world and delta flavours.
import * as grpc from "@grpc/grpc-js";
import { loadServices } from "../protos.js";
import { handleDeltaStream } from "./delta.js";
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse } from "./messages.js";
import { handleSotwStream } from "./sotw.js";
import type { StreamServerOptions } from "./xds-stream.js";

type Sotw = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
type Delta = grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export function addXdsServices(server: grpc.Server, opts: StreamServerOptions): void {
  const { ads, ecds } = loadServices();
  server.addService(ads, {
    StreamAggregatedResources: (call: Sotw) => handleSotwStream(call, "ads", opts),
    DeltaAggregatedResources: (call: Delta) => handleDeltaStream(call, "ads", opts),
  });
  server.addService(ecds, {
    StreamExtensionConfigs: (call: Sotw) => handleSotwStream(call, "ecds", opts),
    DeltaExtensionConfigs: (call: Delta) => handleDeltaStream(call, "ecds", opts),
    // A one-shot REST-style fetch makes no sense for a per-connection push model.
    FetchExtensionConfigs: (_call: unknown, callback: grpc.sendUnaryData<DiscoveryResponse>) =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: "picoseg serves ECDS over streams only" }),
  });
}
