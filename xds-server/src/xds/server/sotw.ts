// State-of-the-world xDS streams (StreamAggregatedResources, StreamExtensionConfigs).
//
// Per resource type a stream holds one subscription and at most one open watch. Each response
// carries the whole subscribed view and one version; the client answers every response with
// a request echoing its nonce: `version_info` = that version is an ACK, `error_detail` set is a
// NACK (and `version_info` is then the last version it accepted). A request with an older nonce
// is stale — the client has not seen our latest response yet — and is ignored.
import * as grpc from "@grpc/grpc-js";
import type { CancelWatch, SotwWatchResponse, Subscription } from "../cache/types.js";
import type { SentResponse, StreamInfo, XdsService } from "./callbacks.js";
import type { DiscoveryRequest, DiscoveryResponse } from "./messages.js";
import {
  errorDetailText,
  failStream,
  learnNode,
  newStreamInfo,
  requestTypeUrl,
  runStream,
  type StreamServerOptions,
} from "./stream-common.js";

interface TypeState {
  subscription: Subscription;
  /** Last response sent for this type, awaiting or past its ACK/NACK. */
  lastSent?: SentResponse;
  /** Whether `lastSent` has been answered (ACK or NACK). */
  answered: boolean;
}

export function handleSotwStream(
  call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
  service: XdsService,
  opts: StreamServerOptions,
): void {
  const info = newStreamInfo(service, "sotw", call.getPeer());
  const types = new Map<string, TypeState>();
  const watches = new Map<string, CancelWatch>();
  let nonceCounter = 0;

  const send = (typeUrl: string, state: TypeState, r: SotwWatchResponse): void => {
    const nonce = String(++nonceCounter);
    const response: DiscoveryResponse = {
      version_info: r.version,
      resources: r.resources.map((x) => ({ type_url: x.typeUrl, value: x.value })),
      type_url: typeUrl,
      nonce,
      control_plane: { identifier: opts.controlPlaneId },
    };
    const sent: SentResponse = {
      typeUrl,
      nonce,
      version: r.version,
      resources: r.resources.map((x) => ({ name: x.name, version: x.version })),
      removed: [],
      snapshotSetAt: r.snapshotSetAt,
    };
    state.lastSent = sent;
    state.answered = false;
    watches.delete(typeUrl); // a watch answers once
    call.write(response);
    opts.callbacks.onResponse?.(info, sent);
  };

  runStream(call, info, opts, watches, (req) => {
    if (!learnNode(info, req.node)) {
      failStream(call, grpc.status.INVALID_ARGUMENT, "the first request of a stream must carry a node with an id");
      return;
    }
    const typeUrl = requestTypeUrl(service, req.type_url);
    if (!typeUrl) {
      failStream(call, grpc.status.INVALID_ARGUMENT, "an ADS request must set type_url");
      return;
    }
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
        const detail = errorDetailText(req.error_detail);
        if (detail !== undefined) opts.callbacks.onNack?.(info, last, detail);
        else opts.callbacks.onAck?.(info, last);
      }
      // A legacy wildcard stays wildcard while the client keeps sending an empty list.
      const legacy = state.subscription.wildcard && names.length === 0;
      state.subscription = subscriptionFrom(names, legacy);
    }
    // The previous watch goes first: it stands for the old subscription, and the hook below may
    // change the snapshot (which would answer that stale watch).
    watches.get(typeUrl)?.();
    watches.delete(typeUrl);
    opts.callbacks.onStreamRequest?.(info, typeUrl, state.subscription);

    const s = state;
    // Known = what this stream was last sent (ACKed or NACKed: a NACKed view is not resent
    // until it changes), or on a fresh stream the version the client already holds.
    const knownVersion = s.lastSent?.version ?? req.version_info ?? "";
    let answeredAtOnce = false;
    const cancel = opts.watcher.createWatch(
      { nodeId: info.node!.id, typeUrl, subscription: s.subscription, knownVersion },
      (r) => {
        answeredAtOnce = true;
        send(typeUrl, s, r);
      },
    );
    if (!answeredAtOnce) watches.set(typeUrl, cancel); // else it answered at once and is gone
  });
}

function subscriptionFrom(names: readonly string[], wildcardIfEmpty: boolean): Subscription {
  const set = new Set(names.filter((n) => n !== "*"));
  return { wildcard: names.includes("*") || (wildcardIfEmpty && names.length === 0), names: set };
}
