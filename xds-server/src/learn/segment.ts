// The segment that puts a workload in learning mode (README "Learning mode", step 1): audit, so
// nothing is closed; one rule that admits its traffic and lists every protocol, so that the
// filter sniffs and a proposal can name protocols; optionally a framing, so that the filter
// measures messages under it rather than reads.
import { PROTOCOLS, type Framing } from "../../../api/picosegment.js";

export interface LearningSegmentOptions {
  name: string;
  namespace: string;
  /** The workload's label `app`. */
  app: string;
  /** Only these destination ports (default: any). */
  ports?: number[];
  /**
   * The framing the workload's messages have: the rule frames under it (with a message limit no
   * message reaches), so that a proposal's maxMessageBytes counts messages, not reads.
   */
  framing?: Framing;
}

/** A message limit for observing only: framing needs one, and no real message is this large. */
export const OBSERVING_MESSAGE_LIMIT = "1Gi";

/** A framing as a YAML flow mapping, as a PicoSegment writes it. */
export function framingYaml(f: Framing): string {
  const fields = Object.entries(f).map(([k, v]) => `${k}: ${typeof v === "string" && k === "delimiter" ? JSON.stringify(v) : String(v)}`);
  return `{ ${fields.join(", ")} }`;
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
    ...(o.framing ? [`      limits: { maxMessageBytes: ${OBSERVING_MESSAGE_LIMIT}, framing: ${framingYaml(o.framing)} }`] : []),
    "",
  ].join("\n");
}
