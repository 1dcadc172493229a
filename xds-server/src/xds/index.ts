// The go-control-plane half: the snapshot cache (what each node is served), the sotw and delta
// stream servers for ADS and ECDS (nonces, ACK/NACK), node metadata and who may claim a node id,
// and the stream tracker. This index is the package's public surface: other packages import it and
// nothing else of it (.dependency-cruiser.cjs).
export { contentVersion, type MarshaledResource } from "./cache/resource.js";
export { SnapshotCache } from "./cache/snapshot-cache.js";
export { type Snapshot, type Subscription } from "./cache/types.js";
export { allOf, DEFAULT_MAX_STREAMS_PER_PEER, IdentityBinding, NodeClaims, PeerStreamLimit } from "./claims.js";
export { type NodeInfo } from "./node.js";
export { messageType } from "./protos.js";
export { RefusedStreamLog } from "./refused-streams.js";
export { type Callbacks, fanOut, type SentResponse, type StreamInfo, type StreamRefusal } from "./server/callbacks.js";
export { bindGrpc, createGrpcServer } from "./server/grpc-listener.js";
export { addXdsServices } from "./server/grpc-services.js";
export { StreamRegistry } from "./server/registry.js";
export { peerSpiffeId } from "./server/xds-stream.js";
export { StreamTracker } from "./tracker.js";
