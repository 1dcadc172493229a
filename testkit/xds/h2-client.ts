// A featherweight delta-ECDS client for the push benchmark: gRPC framing by hand over one
// node:http2 session per client (as N Envoys would hold), protobufjs for the two messages. It
// costs the benchmark process far less per client than a grpc-js channel, so the numbers say
// more about the server than about the load generator.
import http2 from "node:http2";
import { messageRoot } from "../../xds-server/src/xds/protos.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../api/resources.js";
import { jsonToStruct } from "../../xds-server/src/xds/server/messages.js";

const root = messageRoot(["envoy/service/discovery/v3/discovery.proto"]);
const Request = root.lookupType("envoy.service.discovery.v3.DeltaDiscoveryRequest");
const Response = root.lookupType("envoy.service.discovery.v3.DeltaDiscoveryResponse");

const PATH = "/envoy.service.extension.v3.ExtensionConfigDiscoveryService/DeltaExtensionConfigs";

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0; // not compressed
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface H2Client {
  /** Version of the picoseg resource last received. */
  version: string;
  /** performance.now() when it arrived. */
  updatedAt: number;
  close(): void;
}

export function connectH2Client(
  address: string,
  node: { id: string; labels: Record<string, string>; namespace: string },
  onUpdate: () => void,
  /** A connection or stream error (e.g. no ephemeral port left): the client will never update. */
  onError: (err: Error) => void = () => {},
): H2Client {
  const session = http2.connect(`http://${address}`);
  session.on("error", onError);
  const stream = session.request({
    ":method": "POST",
    ":path": PATH,
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", onError);
  // A refused or failed stream ends with a non-zero grpc-status (trailers, or headers alone).
  const failed = (h: http2.IncomingHttpHeaders): void => {
    const status = h["grpc-status"];
    if (status !== undefined && status !== "0") onError(new Error(`grpc-status ${String(status)}: ${String(h["grpc-message"] ?? "")}`));
  };
  stream.on("response", failed);
  stream.on("trailers", failed);
  const client: H2Client = {
    version: "",
    updatedAt: 0,
    close: () => {
      stream.close();
      session.close();
    },
  };
  let pending: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const len = pending.readUInt32BE(1);
      if (pending.length < 5 + len) break;
      const r = Response.decode(pending.subarray(5, 5 + len)) as unknown as {
        nonce: string;
        resources: Array<{ version: string }>;
      };
      pending = pending.subarray(5 + len);
      const res = r.resources[0];
      if (res) {
        client.version = res.version;
        client.updatedAt = performance.now();
        onUpdate();
      }
      stream.write(frame(Request.encode(Request.fromObject({ type_url: TYPED_EXTENSION_CONFIG_TYPE, response_nonce: r.nonce })).finish()));
    }
  });
  stream.write(
    frame(
      Request.encode(
        Request.fromObject({
          type_url: TYPED_EXTENSION_CONFIG_TYPE,
          resource_names_subscribe: ["picoseg"],
          node: { id: node.id, cluster: "bench", metadata: jsonToStruct({ NAMESPACE: node.namespace, LABELS: node.labels }) },
        }),
      ).finish(),
    ),
  );
  return client;
}
