// Where segments come from: a watched directory of YAML files, the store both sources publish
// through, and the gate that decides which published state is put in force. This index is the
// package's public surface: other packages import it and nothing else of it (.dependency-
// cruiser.cjs).
export { DirectorySource } from "./directory.js";
export { PolicyGate, type PolicyGateObserver } from "./policy-gate.js";
export { SegmentStore } from "./segment-store.js";
export { type FileValidator, type PolicySource, type PolicyState } from "./types.js";
