// The PicoSegment resource as the rest of the server sees it after loading and validation
// (docs/design.md is the contract for field names and meaning), and the workload a proxy
// stands for. Quantities and durations are still as written; compile.ts turns them into numbers.

export type Mode = "enforce" | "audit";

export const PROTOCOLS = [
  "tls", "http1", "http2", "ssh", "postgres", "mysql", "redis", "mongodb", "mqtt", "amqp", "kafka", "nats", "unknown",
] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
export type Day = (typeof DAYS)[number];

export interface Source {
  principals?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  /** TLS server names (SNI) of a passthrough ClientHello: exact or `*.example.com`. */
  serverNames?: string[];
  /** MQTT CONNECT client id patterns (exact, `prefix*`, `*`); needs `framing: { type: mqtt }`. */
  mqttClientIds?: string[];
}

export interface Window {
  days: Day[];
  start: string; // "HH:MM"
  end: string; // "HH:MM"; earlier than start runs past midnight
}

export interface Schedule {
  timezone?: string; // IANA; default UTC
  windows: Window[];
}

export type Framing =
  | { type: "chunk" }
  | { type: "lengthPrefixed"; offset?: number; width: 1 | 2 | 4 | 8; endian?: "big" | "little"; adjustment?: number }
  | { type: "delimited"; delimiter: string }
  | { type: "postgres" }
  | { type: "mqtt" }
  | { type: "kafka" };

export type Quantity = number | string; // bytes, or "10Mi" / "64Ki" / "1Gi"
export type Duration = string; // "90s", "10m", "1h", "1d"

export interface Limits {
  maxBytesIn?: Quantity;
  maxBytesOut?: Quantity;
  maxMessageBytes?: Quantity;
  /** Largest MQTT PUBLISH payload; needs `framing: { type: mqtt }`. */
  maxPublishBytes?: Quantity;
  framing?: Framing;
  maxDurationSeconds?: number;
}

export interface PerSource {
  window: Duration;
  maxBytes?: Quantity;
  maxConnections?: number;
  maxDistinctPorts?: number;
  /** The sources this proxy keeps windows for (a fleet's size); the filter's table holds four slots each. */
  maxSources?: number;
}

export interface Rule {
  name: string;
  from?: Source;
  ports?: Array<number | string>; // 5432 or "8000-8100"
  protocols?: Protocol[];
  /** How long the first bytes may stay undecided under `protocols`; the filter's default is 1s. */
  protocolDetectionTimeout?: Duration;
  schedule?: Schedule;
  limits?: Limits;
  perSource?: PerSource;
}

export interface Quarantine {
  strikes: number;
  window: Duration;
  duration: Duration;
}

export interface PicoSegment {
  apiVersion: "picoseg.io/v1alpha1";
  kind: "PicoSegment";
  metadata: { name: string; namespace: string; [k: string]: unknown };
  spec: {
    selector?: { matchLabels?: Record<string, string> };
    mode?: Mode;
    rules?: Rule[];
    quarantine?: Quarantine;
    /** Regulated-data regimes of the selected workloads: evidence only, no decision changes. */
    compliance?: ComplianceRegime[];
    /** Learning mode: the selected workloads' filters observe and report their traffic. */
    learn?: boolean;
  };
}

export const COMPLIANCE_REGIMES = ["pci-dss", "hipaa"] as const;
export type ComplianceRegime = (typeof COMPLIANCE_REGIMES)[number];

/** The workload label that names the class of data a workload holds (pci, phi, pii, …). */
export const DATA_CLASS_LABEL = "picoseg.io/data-class";

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

/** One refusal, printed as `file:line: field: message`. */
export interface PolicyError {
  file: string;
  line: number;
  field: string; // dotted path, e.g. spec.rules[0].ports[1]; "" for the document itself
  message: string;
  /** Line where the refused document starts; absent for errors of the file as a whole. */
  document?: number;
}

export function formatPolicyError(e: PolicyError): string {
  return e.field ? `${e.file}:${e.line}: ${e.field}: ${e.message}` : `${e.file}:${e.line}: ${e.message}`;
}

/** The workload one proxy stands for (from Istio node metadata, or the CLI). */
export interface Workload {
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccount?: string;
  name?: string;
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
