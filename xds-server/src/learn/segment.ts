// The segment that puts a workload in learning mode (README "Learning mode", step 1): audit, so
// nothing is closed; one rule that admits its traffic and lists every protocol, so that the
// filter sniffs and a proposal can name protocols.
import { PROTOCOLS } from "../policy/types.js";

export interface LearningSegmentOptions {
  name: string;
  namespace: string;
  /** The workload's label `app`. */
  app: string;
  /** Only these destination ports (default: any). */
  ports?: number[];
}

export function learningSegment(o: LearningSegmentOptions): string {
  return [
    "apiVersion: picoseg.io/v1alpha1",
    "kind: PicoSegment",
    `metadata: { name: ${o.name}, namespace: ${o.namespace} }`,
    "spec:",
    `  selector: { matchLabels: { app: ${o.app} } }`,
    "  mode: audit",
    "  learn: true",
    "  rules:",
    "    - name: observe-all",
    ...(o.ports ? [`      ports: [${o.ports.join(", ")}]`] : []),
    `      protocols: [${PROTOCOLS.join(", ")}]`,
    "",
  ].join("\n");
}
