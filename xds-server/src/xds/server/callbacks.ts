// Observability hooks of the stream servers (go-control-plane's Callbacks): status and metrics
// listen here instead of being woven into the protocol code. All hooks are synchronous.
import type { Subscription } from "../cache/types.js";
import type { NodeInfo } from "../node.js";
import { type XdsProtocol, type XdsService } from "../../../../api/status.js";


export interface StreamInfo {
  readonly id: number;
  readonly service: XdsService;
  readonly protocol: XdsProtocol;
  readonly peer: string;
  readonly openedAt: number;
  /** The SPIFFE ID of the peer's verified client certificate (mTLS), if any. */
  readonly identity?: string;
  /** Set from the first request that carries a node; later requests may omit it. */
  node?: NodeInfo;
}

export interface ResourceVersion {
  readonly name: string;
  readonly version: string;
}

export interface SentResponse {
  readonly typeUrl: string;
  readonly nonce: string;
  /** sotw: `version_info` of the response; delta: `system_version_info`. */
  readonly version: string;
  readonly resources: readonly ResourceVersion[];
  readonly removed: readonly string[];
  /** When the snapshot behind it was set (ms since epoch). */
  readonly snapshotSetAt: number;
}

export interface Callbacks {
  onStreamOpen?(stream: StreamInfo): void;
  onStreamClosed?(stream: StreamInfo): void;
  /**
   * Every request, once the node is known and before the stream (re)opens its watch: a
   * snapshot set from here is what that watch sees (picoseg builds named resources on demand).
   */
  onStreamRequest?(stream: StreamInfo, typeUrl: string, subscription: Subscription): void;
  /**
   * Delta only: on a stream's first request for a type, the versions the client says it already
   * holds (`initial_resource_versions`), i.e. accepted from an earlier stream, maybe another
   * server. Resources at those versions are not sent again, so no ACK will name them.
   */
  onInitialVersions?(stream: StreamInfo, typeUrl: string, versions: ReadonlyMap<string, string>): void;
  onResponse?(stream: StreamInfo, response: SentResponse): void;
  /** The client accepted `response`. */
  onAck?(stream: StreamInfo, response: SentResponse): void;
  /** The client rejected `response`; it keeps what it had before. */
  onNack?(stream: StreamInfo, response: SentResponse, errorDetail: string): void;
  /** The stream named a node it may not speak for and was failed; it never served anything. */
  onStreamRefused?(stream: StreamInfo, claimed: NodeInfo, refusal: StreamRefusal): void;
}

/** Why a stream may not speak for the node it names; the stream ends with `code`. */
export interface StreamRefusal {
  /** A gRPC status code (grpc.status). */
  readonly code: number;
  /** Stable, for metrics: e.g. `node-claim-conflict`, `identity-mismatch`. */
  readonly reason: string;
  readonly message: string;
}

/**
 * Who may speak for a node (istiod checks a connection's identity against its metadata the same
 * way). Asked once per stream, when its first request names the node; the protocol code only
 * enforces the answer.
 */
export interface StreamAdmission {
  admit(stream: StreamInfo, node: NodeInfo): StreamRefusal | undefined;
  /** An admitted stream ended. */
  release(stream: StreamInfo, node: NodeInfo): void;
}

/** Calls every listener in order; one that throws does not stop the others. */
export function fanOut(...all: Callbacks[]): Callbacks {
  // Each hook gets the bound listeners that have it, found once: the push and ACK paths call
  // these once per proxy, so they should not look the hook up or spread arguments each time.
  type Listener = (a: unknown, b: unknown, c: unknown) => void;
  const each = <K extends keyof Callbacks>(key: K): NonNullable<Callbacks[K]> => {
    const listeners = all.flatMap((c) => (c[key] ? [(c[key] as Listener).bind(c)] : []));
    return ((a: unknown, b: unknown, c: unknown) => {
      for (const listener of listeners) {
        try {
          listener(a, b, c);
        } catch (err) {
          console.error(`picoseg: xds callback ${key} failed:`, err);
        }
      }
    }) as NonNullable<Callbacks[K]>;
  };
  return {
    onStreamOpen: each("onStreamOpen"),
    onStreamClosed: each("onStreamClosed"),
    onStreamRequest: each("onStreamRequest"),
    onInitialVersions: each("onInitialVersions"),
    onResponse: each("onResponse"),
    onAck: each("onAck"),
    onNack: each("onNack"),
    onStreamRefused: each("onStreamRefused"),
  };
}
