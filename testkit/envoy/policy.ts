// Policies for integration tests go through the project's own pipeline: PicoSegment objects are
// written as YAML, loaded and validated by the policy loader, and compiled for the test workload by
// compileForWorkload — exactly the string `picoseg compile` prints and the xDS server sends.
import { stringify } from "yaml";
import { compileForWorkload, validatePolicyText } from "../../xds-server/src/policy/index.js";
import { formatPolicyError } from "../../api/status.js";
import { type Workload } from "../../api/workload.js";
import { type PicoSegment } from "../../api/picosegment.js";

/** The workload every test listener stands for unless a test says otherwise. */
export const TEST_WORKLOAD: Workload = { namespace: "it", labels: { app: "it" }, annotations: {} };

/** A PicoSegment in namespace `it` selecting the test workload. */
export function segment(name: string, spec: Omit<PicoSegment["spec"], "selector">): PicoSegment {
  return {
    apiVersion: "picoseg.io/v1alpha1",
    kind: "PicoSegment",
    metadata: { name, namespace: TEST_WORKLOAD.namespace },
    spec: { selector: { matchLabels: { ...TEST_WORKLOAD.labels } }, ...spec },
  };
}

/** YAML → loader/validator → compiler; throws with `file:line: field: message` on an invalid segment. */
export function compileSegments(segments: PicoSegment[], workload: Partial<Workload> = {}): string {
  const text = segments.map((s) => stringify(s)).join("---\n");
  const { segments: loaded, errors } = validatePolicyText(text, "integration-test.yaml");
  if (errors.length > 0) throw new Error(`invalid test policy:\n${errors.map(formatPolicyError).join("\n")}`);
  return compileForWorkload(loaded, { ...TEST_WORKLOAD, ...workload }).config;
}

export type { Workload } from "../../api/workload.js";
export type { Day, Limits, PicoSegment, Window } from "../../api/picosegment.js";
