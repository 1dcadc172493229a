// What loading and compiling policy yields: segments with where they came from, refusals as
// `file:line: field: message`, and one workload's compiled filter configuration. The document
// types themselves are the contract, in api/picosegment.ts.
import type { PicoSegment } from "../../../api/picosegment.js";
import { type PolicyError } from "../../../api/status.js";

/** Where a document came from, for `file:line: field: message` errors. */
export interface SourceRef {
  file: string;
  line: number; // 1-based line of the document's first line
}

/** A validated segment and where it came from. */
export interface LoadedSegment {
  segment: PicoSegment;
  source: SourceRef;
}

/** What compiling for one workload yields. */
export interface CompiledConfig {
  /** Exactly the filter's plugin configuration string (filter/CONFIG.md). */
  config: string;
  /** Segments that selected the workload, as namespace/name, in merge order. */
  segments: string[];
  /** Annotations that did not parse or could not apply (never tighten-breaking): reported in status. */
  warnings: string[];
}

/** What loading policy files yields: the valid segments and every refusal. */
export interface PolicyLoadResult {
  /** Segments of the documents without errors, in file order then document order. */
  segments: LoadedSegment[];
  errors: PolicyError[];
  /** Valid but probably wrong (the lengthPrefixed Postgres form): printed by `picoseg validate`, never refused. */
  warnings: PolicyError[];
  /** Documents of another API (a ConfigMap in the same file): skipped, not refused. */
  notes: PolicyError[];
  /** Every file read, as named (directory entries joined to the directory as given). */
  files: string[];
}

/** Options of compileForWorkload. */
export interface CompileOptions {
  /** The compilation instant; only its UTC year matters (the time-zone horizon). Default: now. */
  now?: Date;
  /** When set, a `generation G` line follows the header (CONFIG.md). */
  generation?: number;
  /** Where learning-mode reports go (the `observe` line); default DEFAULT_REPORT_CHANNEL. */
  report?: ReportChannel;
}

/** The report channel a learning filter uses: an Envoy cluster to the picoseg server's gRPC port. */
export interface ReportChannel {
  cluster: string;
  intervalMs: number;
  /** Connection aggregates the filter keeps per interval (its memory bound). */
  capacity: number;
}
