// Incremental ("delta") xDS streams (DeltaAggregatedResources, DeltaExtensionConfigs).
//
// The client changes its subscription with each request (`resource_names_subscribe` /
// `_unsubscribe`, `*` for wildcard) and says on reconnect what it already holds
// (`initial_resource_versions`). The server sends only resources whose version differs from
// what the client holds, plus `removed_resources`. ACK and NACK name only the nonce: an ACK
// has no `error_detail`, a NACK has one, and the client then keeps its previous resources.
import type { ConfigWatcher, DeltaWatchResponse } from "../cache/types.js";
import type { SentResponse } from "./callbacks.js";
import { deltaResponseBytes } from "./delta-response-bytes.js";
import type { DeltaDiscoveryRequest } from "./messages.js";
import type { RequestHandler, XdsStream } from "./xds-stream.js";

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** name → version the client holds or was last sent (a NACKed version counts: not resent). */
  known: Map<string, string>;
  /** Responses sent and not yet ACKed or NACKed, by nonce. */
  outstanding: Map<string, SentResponse>;
}

/** The delta protocol on one stream: what to do with each of its requests. */
export function deltaRequests(stream: XdsStream<DeltaDiscoveryRequest, Buffer>, watcher: ConfigWatcher): RequestHandler<DeltaDiscoveryRequest> {
  const types = new Map<string, TypeState>();

  const send = (typeUrl: string, state: TypeState, r: DeltaWatchResponse): void => {
    for (const x of r.resources) state.known.set(x.name, x.version);
    for (const name of r.removed) state.known.delete(name);
    const sent = stream.nextResponse(typeUrl, { ...r, version: r.systemVersion });
    state.outstanding.set(sent.nonce, sent);
    // Marshaled here (delta-response-bytes.ts): the proxies of a workload share all but the nonce.
    const content = { systemVersion: r.systemVersion, typeUrl, resources: r.resources, removed: r.removed, controlPlaneId: stream.controlPlane.identifier };
    stream.respond(sent, deltaResponseBytes(content, sent.nonce));
  };

  return (req, typeUrl) => {
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    let state = types.get(typeUrl);
    if (!state) {
      state = {
        // An empty first subscription is the (legacy) wildcard.
        wildcard: subscribe.length === 0 || subscribe.includes("*"),
        names: new Set(subscribe.filter((n) => n !== "*")),
        known: new Map(Object.entries(req.initial_resource_versions ?? {})),
        outstanding: new Map(),
      };
      types.set(typeUrl, state);
      stream.reportInitialVersions(typeUrl, state.known);
    } else {
      for (const name of subscribe) {
        if (name === "*") state.wildcard = true;
        else {
          state.names.add(name);
          state.known.delete(name); // a (re)subscription is answered with the resource
        }
      }
      for (const name of unsubscribe) {
        if (name === "*") state.wildcard = false;
        else {
          state.names.delete(name);
          state.known.delete(name);
        }
      }
    }

    const nonce = req.response_nonce ?? "";
    const answered = nonce ? state.outstanding.get(nonce) : undefined;
    if (answered) {
      // Earlier outstanding responses are implicitly superseded by this answer.
      for (const n of [...state.outstanding.keys()]) {
        state.outstanding.delete(n);
        if (n === nonce) break;
      }
      stream.reportAnswer(answered, req.error_detail);
    }

    const subscription = { wildcard: state.wildcard, names: new Set(state.names) };
    const s = state;
    stream.watch(
      typeUrl,
      subscription,
      (onAnswer) => watcher.createDeltaWatch({ nodeId: stream.nodeId, typeUrl, subscription, known: new Map(s.known) }, onAnswer),
      (r: DeltaWatchResponse) => send(typeUrl, s, r),
    );
  };
}
