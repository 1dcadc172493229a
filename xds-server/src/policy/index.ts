// The policy module's public surface: load and validate PicoSegment documents, compile them
// for one workload. The xDS server and the CLI import from here.

export { compileForWorkload, CONFIG_SCHEMA_VERSION, TIMEZONE_HORIZON_YEARS } from "./compile.js";
export { duplicateSegmentErrors, loadPolicyDir, loadPolicyFiles, segmentKey, validatePolicyText } from "./load.js";
export { picoSegmentSchema } from "./schema.js";
export { selectSegments, selects } from "./select.js";
export { readAnnotations } from "./annotations.js";
export * from "./types.js";
