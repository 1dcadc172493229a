// What a directory and a Kubernetes source share: the segments in force from a set of entries
// (files, or custom resources), each validated on its own. A refused entry keeps its last good
// segments: a bad edit never replaces a good policy. Every change is published to the listeners
// as a new PolicyState.
import type { LoadedSegment } from "../policy/index.js";
import { type PolicyError, formatPolicyError, type Refusal } from "../../../api/status.js";
import type { FileValidator, PolicyState } from "./types.js";

type Listener = (state: PolicyState, newRefusals: readonly Refusal[]) => void;

interface Entry {
  text: string;
  /** Last good segments (kept while the entry is refused). */
  segments: LoadedSegment[];
  /** When those segments last changed (ms since the epoch): a file's mtime, or when a resource was seen. */
  changedAt: number;
  refusals: Refusal[];
}

export class SegmentStore {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<Listener>();
  private state: PolicyState | undefined;
  /** Duplicate-definition refusals already reported, so each is counted once, not on every publish. */
  private reportedDuplicates = new Set<string>();

  constructor(
    private readonly validateFile: FileValidator,
    private readonly now: () => number,
  ) {}

  current(): PolicyState | undefined {
    return this.state;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Keys of every entry held, good or refused. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Validates an entry's text as `display` (the name errors show) unless it is unchanged; false
   * when it is. New refusals are appended to `fresh`. `changedAt` defaults to now: when the new
   * version was taken.
   */
  update(
    key: string,
    display: string,
    text: string,
    fresh: Refusal[],
    changedAt?: number,
    /** The validation of `text` when the caller already has it (validated off the event loop). */
    validated?: ReturnType<FileValidator>,
  ): boolean {
    const prev = this.entries.get(key);
    if (prev && prev.text === text) return false;
    const { segments, errors } = validated ?? this.validateFile(display, text);
    if (errors.length === 0) {
      this.entries.set(key, { text, segments, changedAt: changedAt ?? this.now(), refusals: [] });
    } else {
      const at = this.now();
      const refusals = errors.map((e) => toRefusal(e, at));
      fresh.push(...refusals);
      this.entries.set(key, { text, segments: prev?.segments ?? [], changedAt: prev?.changedAt ?? 0, refusals });
    }
    return true;
  }

  /** The refusals standing for one entry (empty when its latest text was accepted). */
  refusalsOf(key: string): readonly Refusal[] {
    return this.entries.get(key)?.refusals ?? [];
  }

  /** Whether the entry holds exactly this text (nothing to validate again). */
  holds(key: string, text: string): boolean {
    return this.entries.get(key)?.text === text;
  }

  /** Drops an entry and its segments; false when there was none. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /**
   * Publishes the segments of every entry, in key order, as a new state. When two entries define
   * one segment, the first (by key) stays and the other is refused.
   */
  publish(changeFloor: number, fresh: Refusal[]): PolicyState {
    const segments: LoadedSegment[] = [];
    const refusals: Refusal[] = [];
    const owner = new Map<string, LoadedSegment>();
    const changedAt = new Map<string, number>();
    const at = this.now();
    const duplicates = new Set<string>();
    for (const key of [...this.entries.keys()].sort()) {
      const entry = this.entries.get(key)!;
      refusals.push(...entry.refusals);
      for (const s of entry.segments) {
        const name = `${s.segment.metadata.namespace}/${s.segment.metadata.name}`;
        const first = owner.get(name);
        if (first) {
          const r = toRefusal(
            {
              file: s.source.file,
              line: s.source.line,
              field: "metadata.name",
              message: `segment ${name} is already defined at ${first.source.file}:${first.source.line}`,
            },
            at,
          );
          refusals.push(r);
          duplicates.add(r.text);
          if (!this.reportedDuplicates.has(r.text)) fresh.push(r);
          continue;
        }
        owner.set(name, s);
        changedAt.set(name, entry.changedAt);
        segments.push(s);
      }
    }
    this.reportedDuplicates = duplicates;
    const state: PolicyState = {
      segments,
      refusals,
      revision: (this.state?.revision ?? 0) + 1,
      loadedAt: at,
      changedAt,
      changeFloor,
    };
    this.state = state;
    for (const l of this.listeners) l(state, fresh);
    return state;
  }
}

function toRefusal(e: PolicyError, at: number): Refusal {
  return { ...e, text: formatPolicyError(e), at };
}
