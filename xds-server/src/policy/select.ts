// Which segments protect a workload, and in which order their rules are tried.

import { compareCodeUnits } from "./load.js";
import type { LoadedSegment } from "./types.js";
import type { Workload } from "../../../api/workload.js";

/** True when the segment is in the workload's namespace and every matchLabels pair is on the workload. */
export function selects(loaded: LoadedSegment, workload: Workload): boolean {
  const { metadata, spec } = loaded.segment;
  if (metadata.namespace !== workload.namespace) return false;
  const matchLabels = spec.selector?.matchLabels ?? {};
  return Object.entries(matchLabels).every(([key, value]) => Object.hasOwn(workload.labels, key) && workload.labels[key] === value);
}

/**
 * The segments selecting the workload, in merge order: by namespace, then name (code-unit
 * order, the same on every machine). Their rules are concatenated in this order.
 */
export function selectSegments(segments: readonly LoadedSegment[], workload: Workload): LoadedSegment[] {
  return segments
    .filter((s) => selects(s, workload))
    .sort(
      (a, b) =>
        compareCodeUnits(a.segment.metadata.namespace, b.segment.metadata.namespace) ||
        compareCodeUnits(a.segment.metadata.name, b.segment.metadata.name) ||
        compareCodeUnits(a.source.file, b.source.file) ||
        a.source.line - b.source.line,
    );
}
