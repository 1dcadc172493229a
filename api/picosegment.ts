// The PicoSegment resource (picoseg.io/v1alpha1) as written by operators and validated against
// ./picosegment.schema.json; docs/design.md is the contract for every field's name and meaning.
// Quantities and durations stay as written here; the policy package turns them into numbers.

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
