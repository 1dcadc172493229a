// The tamper-evident audit trail: a hash-chained JSON-lines file, and the recorder that writes
// policy states, xDS versions, ACKs, NACKs and decision summaries to it. This index is the
// package's public surface: other packages import it and nothing else of it (.dependency-
// cruiser.cjs).
export { verifyTrail } from "./chain.js";
export { AuditRecorder } from "./recorder.js";
