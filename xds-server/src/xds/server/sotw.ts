// State-of-the-world xDS streams (StreamAggregatedResources, StreamExtensionConfigs).
//
// Per resource type a stream holds one subscription and at most one open watch. Each response
// carries the whole subscribed view and one version; the client answers every response with
// a request echoing its nonce: `version_info` = that version is an ACK, `error_detail` set is a
// NACK (and `version_info` is then the last version it accepted). A request with an older nonce
// is stale — the client has not seen our latest response yet — and is ignored.
import type { ConfigWatcher, SotwWatchResponse, Subscription } from "../cache/types.js";
import type { SentResponse } from "./callbacks.js";
import type { DiscoveryRequest, DiscoveryResponse } from "./messages.js";
import type { RequestHandler, XdsStream } from "./xds-stream.js";

interface TypeState {
  subscription: Subscription;
  /** Last response sent for this type, awaiting or past its ACK/NACK. */
  lastSent?: SentResponse;
  /** Whether `lastSent` has been answered (ACK or NACK). */
  answered: boolean;
}

/** The state-of-the-world protocol on one stream: what to do with each of its requests. */
export function sotwRequests(stream: XdsStream<DiscoveryRequest, DiscoveryResponse>, watcher: ConfigWatcher): RequestHandler<DiscoveryRequest> {
  const types = new Map<string, TypeState>();

  const send = (typeUrl: string, state: TypeState, r: SotwWatchResponse): void => {
    const sent = stream.nextResponse(typeUrl, { ...r, removed: [] });
    state.lastSent = sent;
    state.answered = false;
    stream.respond(sent, {
      version_info: r.version,
      resources: r.resources.map((x) => ({ type_url: x.typeUrl, value: x.value })),
      type_url: typeUrl,
      nonce: sent.nonce,
      control_plane: stream.controlPlane,
    });
  };

  return (req, typeUrl) => {
    const names = req.resource_names ?? [];
    const nonce = req.response_nonce ?? "";
    let state = types.get(typeUrl);
    if (!state) {
      // Legacy wildcard: an empty name list on the type's first request means "everything".
      state = { subscription: subscriptionFrom(names, names.length === 0), answered: true };
      types.set(typeUrl, state);
    } else {
      if (nonce !== "" && nonce !== state.lastSent?.nonce) return; // stale: a newer response is on its way
      const last = state.lastSent;
      if (last && nonce === last.nonce && !state.answered) {
        state.answered = true;
        stream.reportAnswer(last, req.error_detail);
      }
      // A legacy wildcard stays wildcard while the client keeps sending an empty list.
      const legacy = state.subscription.wildcard && names.length === 0;
      state.subscription = subscriptionFrom(names, legacy);
    }
    const s = state;
    // Known = what this stream was last sent (ACKed or NACKed: a NACKed view is not resent
    // until it changes), or on a fresh stream the version the client already holds.
    const knownVersion = s.lastSent?.version ?? req.version_info ?? "";
    stream.watch(
      typeUrl,
      s.subscription,
      (onAnswer) => watcher.createWatch({ nodeId: stream.nodeId, typeUrl, subscription: s.subscription, knownVersion }, onAnswer),
      (r: SotwWatchResponse) => send(typeUrl, s, r),
    );
  };
}

function subscriptionFrom(names: readonly string[], wildcardIfEmpty: boolean): Subscription {
  const set = new Set(names.filter((n) => n !== "*"));
  return { wildcard: names.includes("*") || (wildcardIfEmpty && names.length === 0), names: set };
}
