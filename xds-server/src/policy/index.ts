// PicoSegment documents: load them from YAML with their lines, validate them (schema and meaning),
// and compile the segments that select one workload into the filter's configuration. This index is
// the package's public surface: other packages import it and nothing else of it (.dependency-
// cruiser.cjs).
export { LIMIT_ANNOTATIONS, type LimitName, readAnnotations } from "./annotations.js";
export { type Cidr, parseCidr } from "./cidr.js";
export { compileForWorkload, CONFIG_SCHEMA_VERSION, DEFAULT_REPORT_CHANNEL, TIMEZONE_HORIZON_YEARS } from "./compile.js";
export { decodeConfig, type DecodedConfig } from "./config-text.js";
export { framingText, parseFramingText } from "./framing.js";
export { fileTooLarge, MAX_CONFIG_BYTES, MAX_FILE_BYTES, sizeText } from "./limits.js";
export { duplicateSegmentErrors, loadPolicyDir, loadPolicyFiles, segmentKey, validatePolicyText } from "./load.js";
export { parsePort } from "./ports.js";
export { parseDuration, parseQuantity } from "./quantity.js";
export { MINUTES_PER_WEEK, windowIntervals } from "./schedule.js";
export { picoSegmentSchema } from "./schema.js";
export { selects, selectSegments } from "./select.js";
export { checkTimeZone, offsetFunction } from "./timezone.js";
export { type CompiledConfig, type CompileOptions, type LoadedSegment, type PolicyLoadResult, type ReportChannel, type SourceRef } from "./types.js";
export { ValidatorPool } from "./validator-pool.js";
