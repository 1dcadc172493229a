// Back from the filters: the report intake service (gRPC), the report store and its peers across
// replicas, denied attempts and their live feed, and the decision counters read from Envoy admins.
// This index is the package's public surface: other packages import it and nothing else of it
// (.dependency-cruiser.cjs).
export { announcedAdmins, DecisionCounters, type DecisionDelta, DECISIONS_MISSING, type DecisionSample, type ProxyDecisions } from "./decision-counters.js";
export { deniedAttempts } from "./denials.js";
export { DenialFeed } from "./feed.js";
export { DEFAULT_PEER_TIMEOUT_MS, fleetReports, type MissingPeer, type ObservationQuery, observationsPath, parsePeerUrls, type PeerOptions } from "./peers.js";
export { addObservationService, ReportingProxies } from "./service.js";
export { ObservationStore, type StoredReport } from "./store.js";
