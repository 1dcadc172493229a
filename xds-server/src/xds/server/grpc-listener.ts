// The gRPC server Envoy connects to: keepalive tuned for streams that live for hours, and TLS (or
// mTLS, requiring a client certificate) when the server has a certificate.
import * as grpc from "@grpc/grpc-js";
import type { TlsMaterial } from "../../util/index.js";

export function createGrpcServer(): grpc.Server {
  return new grpc.Server({
    // Envoy keeps its xDS stream open for hours; keepalive notices dead peers.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
  });
}

/** Listens on `address` ("host:port", port 0 picks one); resolves to the port bound. */
export function bindGrpc(server: grpc.Server, address: string, tls: TlsMaterial | undefined): Promise<number> {
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}
