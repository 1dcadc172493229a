// What is served, apart from how it is served (go-control-plane's split): the cache holds a
// versioned set of marshaled resources per proxy; the stream handlers in ../server/ open
// watches on it and turn what the watches deliver into DiscoveryResponses. Reading these
// types should teach the parts of the xDS protocol the cache has to care about.
import type { MarshaledResource } from "./resource.js";

/**
 * What one stream asked for, for one resource type.
 *
 * xDS has two kinds of subscription, and a stream may hold both at once:
 * - wildcard: "every resource of this type you have for me". In state-of-the-world a client
 *   asks for it with an empty `resource_names` on its first request (legacy) or by naming `*`;
 *   in delta with an empty `resource_names_subscribe` on its first request, or `*`.
 *   Unsubscribing `*` (delta) or sending names without `*` after the first request (sotw)
 *   ends it.
 * - named: exactly these names. A name that the server does not have is simply not sent
 *   (ECDS waits for it; picoseg builds any name a proxy asks for, see ../proxy-configs.ts).
 */
export interface Subscription {
  readonly wildcard: boolean;
  readonly names: ReadonlySet<string>;
}

/**
 * A state-of-the-world watch. In sotw every response carries the complete set of subscribed
 * resources and ONE version for the lot (`version_info`). The client echoes that version back
 * in its ACK; a NACK echoes the last version it accepted.
 *
 * `knownVersion` is the version this stream was last *sent* (ACKed or NACKed alike), or, on
 * a fresh stream, the `version_info` the client brings from an earlier connection. The
 * watch answers only when the subscribed view's version differs from it: this is what keeps
 * a NACKed version from being sent again until the content changes, and lets a reconnecting
 * proxy that is already up to date receive nothing.
 */
export interface SotwWatchRequest {
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly subscription: Subscription;
  readonly knownVersion: string;
}

export interface SotwWatchResponse {
  /** Version of the whole view: a hash of its resources' names and content versions. */
  readonly version: string;
  readonly resources: readonly MarshaledResource[];
  /** When the snapshot that produced this response was set (ms since epoch): push latency. */
  readonly snapshotSetAt: number;
}

/**
 * A delta watch. Delta xDS versions every resource on its own: the client states what it has
 * (`initial_resource_versions` when it reconnects), the server sends only resources whose
 * version differs and names the ones that went away (`removed_resources`). ACKs and NACKs
 * carry no versions, only the nonce; so `known` is what this stream was last *sent* per name
 * (a NACKed version counts as known, so it is not resent until the content changes).
 */
export interface DeltaWatchRequest {
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly subscription: Subscription;
  readonly known: ReadonlyMap<string, string>;
}

export interface DeltaWatchResponse {
  /** Changed or new resources within the subscription. */
  readonly resources: readonly MarshaledResource[];
  /** Subscribed names the client knows but the snapshot no longer has. */
  readonly removed: readonly string[];
  /** A version for the whole view, informational in delta (`system_version_info`). */
  readonly systemVersion: string;
  readonly snapshotSetAt: number;
}

/** Stops a watch; idempotent. */
export type CancelWatch = () => void;

/**
 * The server side's only view of the cache (go-control-plane's ConfigWatcher). A watch answers
 * at most once: immediately if the cache already has something the client lacks, else on the
 * first snapshot change that concerns it. The stream opens a new watch with its next request.
 */
export interface ConfigWatcher {
  createWatch(request: SotwWatchRequest, respond: (response: SotwWatchResponse) => void): CancelWatch;
  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaWatchResponse) => void): CancelWatch;
}

/** Everything served to one proxy: resource type URL → resource name → resource. */
export type Snapshot = ReadonlyMap<string, ReadonlyMap<string, MarshaledResource>>;
