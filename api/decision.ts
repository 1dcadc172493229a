// The filter's JSON decision line (written by filter/assembly/decisionlog.ts; its fields are
// documented in filter/CONFIG.md, "The decision line"), as Envoy logs it: one per denial or
// audit would-deny (warning), or allowed connection (debug). The demo, the integration tests and
// the host emulator read it through this one type and parser.

/** What the filter decided: deny (closed), audit (would have been denied; left open), allow. */
export type Verdict = "deny" | "audit" | "allow";

/** The stable reason strings (logs, metrics, status, reports), in the filter's own order. */
export const REASONS = [
  "no-config", "no-rule", "source", "port", "protocol", "schedule", "bytes-in", "bytes-out", "message-size",
  "duration", "source-bytes", "source-connections", "source-ports", "quarantined", "revoked",
] as const;
export type Reason = (typeof REASONS)[number];

/** The line's fields under the filter's own names (testkit/filter-host's emulator uses the same). */
export interface Decision {
  /** The verdict. */
  picoseg: Verdict;
  /** Why a connection was (or would have been) denied; "" for an allow. */
  reason: Reason | "";
  segment: string;
  rule: string;
  /** The client's address, "IP:PORT". */
  source: string;
  principal: string;
  /** The listener port; null when the filter did not learn it. */
  port: number | null;
  protocol: string;
  bytesIn: number;
  bytesOut: number;
  mode: string;
  /** The filter's connection id. */
  connection: number;
  /** The policy field that decided, where a reason has several (`from.mqttClientIds`, `limits.maxPublishBytes`). */
  field?: string;
}

/** The decision in one line of Envoy's log, or undefined when the line holds none. */
export function parseDecisionLine(line: string): Decision | undefined {
  const at = line.indexOf('{"picoseg"');
  // The JSON object ends at the line's last brace: a log format may append fields after the message
  // (Istio's pilot-agent runs Envoy with "...%v\tthread=%t").
  const end = line.lastIndexOf("}");
  if (at < 0 || end < at) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.slice(at, end + 1));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const o = parsed as Record<string, unknown>;
  const verdict = o["picoseg"];
  if (!isVerdict(verdict)) return undefined;
  const str = (k: string): string => (typeof o[k] === "string" ? (o[k] as string) : "");
  const num = (k: string): number => (typeof o[k] === "number" ? (o[k] as number) : 0);
  return {
    picoseg: verdict,
    reason: reasonOf(o["reason"]),
    segment: str("segment"),
    rule: str("rule"),
    source: str("source"),
    principal: str("principal"),
    port: typeof o["port"] === "number" ? o["port"] : null,
    protocol: str("protocol"),
    bytesIn: num("bytesIn"),
    bytesOut: num("bytesOut"),
    mode: str("mode"),
    connection: num("connection"),
    ...(typeof o["field"] === "string" ? { field: o["field"] } : {}),
  };
}

/** A reason string as one of the reasons; anything else (an allow's "") as "". */
export function reasonOf(v: unknown): Reason | "" {
  return typeof v === "string" && (REASONS as readonly string[]).includes(v) ? (v as Reason) : "";
}

function isVerdict(v: unknown): v is Verdict {
  return v === "deny" || v === "audit" || v === "allow";
}
