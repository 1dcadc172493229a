// Where segments come from. The rest of the server only sees a PolicySource: a watched directory
// (./directory.ts) or the Kubernetes PicoSegment custom resources (kube/source.ts).
import type { LoadedSegment } from "../policy/index.js";
import type { PolicyError, Refusal } from "../../../api/status.js";

/** The current good state of a source, plus what it is refusing right now. */
export interface PolicyState {
  /** Every segment in force, ordered by origin (file path, then position in the file). */
  readonly segments: readonly LoadedSegment[];
  /** Refusals still standing (cleared when the offending file is fixed or removed). */
  readonly refusals: readonly Refusal[];
  /** Increases with every change of `segments` or `refusals`. */
  readonly revision: number;
  /**
   * When each segment (by `namespace/name`) last changed, in ms since the epoch, and a floor for
   * changes the segments cannot show (a segment deleted or renamed away). The filter needs a
   * `generation` that grows with every change of a proxy's config, across server restarts too,
   * for revocation of live connections (filter/README.md): these times are where it comes from.
   * A directory gives file and directory mtimes, so a restarted server computes the same
   * generations for unchanged policies.
   */
  readonly changedAt: ReadonlyMap<string, number>;
  readonly changeFloor: number;
  readonly loadedAt: number;
}

/** Whether a source still follows its origin; a stale one serves its last good state. */
export interface SourceHealth {
  stale: boolean;
  reason?: string;
}

export interface PolicySource {
  /** For logs and status, e.g. `dir:/etc/picoseg/policies`. */
  readonly description: string;
  /**
   * Loads the initial state, publishing it to the listeners registered so far (rejects when the
   * source cannot be read at all), and starts watching.
   */
  start(): Promise<PolicyState>;
  current(): PolicyState | undefined;
  /** Called after each change; returns an unsubscribe function. */
  onChange(listener: (state: PolicyState, newRefusals: readonly Refusal[]) => void): () => void;
  /** Absent: always fresh. */
  health?(): SourceHealth;
  close(): Promise<void>;
}

/** Turns one file's text into its valid segments and the errors of the rest. */
export type FileValidator = (file: string, text: string) => { segments: LoadedSegment[]; errors: PolicyError[] };
