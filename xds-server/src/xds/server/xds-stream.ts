// What the sotw and delta stream handlers share: stream ids, nonces, node bookkeeping, teardown.
import * as grpc from "@grpc/grpc-js";
import type { CancelWatch, ConfigWatcher } from "../cache/types.js";
import { nodeInfo } from "../node.js";
import type { Callbacks, StreamInfo, XdsProtocol, XdsService } from "./callbacks.js";
import type { ProtoNode, RpcStatus } from "./messages.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../resources.js";

export interface StreamServerOptions {
  watcher: ConfigWatcher;
  callbacks: Callbacks;
  /** Sent as `control_plane.identifier` in every response. */
  controlPlaneId: string;
}

let nextStreamId = 1;

export function newStreamInfo(service: XdsService, protocol: XdsProtocol, peer: string): StreamInfo {
  return { id: nextStreamId++, service, protocol, peer, openedAt: Date.now() };
}

/** Records the node the first time a request carries one; false when none is known yet. */
export function learnNode(stream: StreamInfo, node: ProtoNode | null | undefined): boolean {
  if (!stream.node && node && node.id) stream.node = nodeInfo(node);
  return stream.node !== undefined;
}

/** ADS requests must name their type; the standalone ECDS service has only one. */
export function requestTypeUrl(service: XdsService, typeUrl: string | undefined): string | undefined {
  if (typeUrl) return typeUrl;
  return service === "ecds" ? TYPED_EXTENSION_CONFIG_TYPE : undefined;
}

export function errorDetailText(e: RpcStatus | null | undefined): string | undefined {
  if (!e) return undefined;
  if (!e.message && !e.code) return undefined;
  return e.message || `code ${e.code ?? 0}`;
}

/**
 * Wires a duplex stream's lifecycle: `onRequest` per message, teardown once on end, error or
 * cancellation (cancels every watch, reports the close).
 */
export function runStream<Req, Res>(
  call: grpc.ServerDuplexStream<Req, Res>,
  info: StreamInfo,
  opts: StreamServerOptions,
  watches: Map<string, CancelWatch>,
  onRequest: (req: Req) => void,
): void {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const cancel of watches.values()) cancel();
    watches.clear();
    opts.callbacks.onStreamClosed?.(info);
  };
  opts.callbacks.onStreamOpen?.(info);
  call.on("data", (req: Req) => {
    if (closed) return;
    try {
      onRequest(req);
    } catch (err) {
      close();
      failStream(call, grpc.status.INTERNAL, err instanceof Error ? err.message : String(err));
    }
  });
  call.on("end", () => {
    close();
    call.end();
  });
  call.on("error", close);
  call.on("cancelled", close);
  call.on("close", close);
}

/**
 * Fails the stream with a status the client sees (e.g. a first request without a node). grpc-js
 * turns an 'error' event on a server stream into the call's final status.
 */
export function failStream<Req, Res>(call: grpc.ServerDuplexStream<Req, Res>, code: grpc.status, message: string): void {
  call.emit("error", Object.assign(new Error(message), { code, details: message }));
}
