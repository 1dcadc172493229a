// What the server says about itself on /status (and `picoseg status` prints): the policy in force,
// what it refuses and why, and per connected proxy what was sent, ACKed or NACKed.
import type { Workload } from "./workload.js";

/** The two xDS services picoseg serves the filter config on, and the two protocol variants. */
export type XdsService = "ads" | "ecds";
export type XdsProtocol = "sotw" | "delta";

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

/** A document (or file) the source would not take; the previous good state stays in force. */
export interface Refusal extends PolicyError {
  /** `file:line: field: message`. */
  text: string;
  /** When it was refused (ms since epoch). */
  at: number;
}

export interface ResourceStatus {
  name: string;
  /** Version in the proxy's snapshot now (what it should converge to). */
  current?: string;
  sent?: string;
  sentAt?: number;
  acked?: string;
  ackedAt?: number;
  nack?: { version: string; detail: string; at: number };
}

export interface StreamStatus {
  id: number;
  service: XdsService;
  protocol: XdsProtocol;
  peer: string;
  /** The SPIFFE ID of its verified client certificate (mTLS). */
  identity?: string;
  connectedAt: number;
  /**
   * The protocol-level version of the last response and of the last one ACKed: sotw
   * `version_info` (what Envoy's config_dump shows for sotw) or delta `system_version_info`.
   */
  versionSent?: string;
  versionAcked?: string;
}

export interface ProxyStatus {
  nodeId: string;
  cluster: string;
  workload: Workload;
  segments: string[];
  /** The `generation` line of its current config (what the filter's revocation compares). */
  generation?: number;
  warnings: string[];
  error?: string;
  streams: StreamStatus[];
  resources: ResourceStatus[];
}

export interface StatusReport {
  controlPlane: string;
  startedAt: number;
  ready: boolean;
  policySource: string;
  /** Why the source no longer follows its origin (a vanished directory); absent when fresh. */
  policySourceStale?: string;
  policyRevision: number;
  /** Segments in force (served to proxies). */
  segments: string[];
  /** In force and empty: every workload a filter protects denies every connection. */
  noSegments: boolean;
  /** Valid but suspicious policy changes (loosened segments, no segments, refused states), newest last (bounded). */
  policyNotices: PolicyNotice[];
  /** Refusals standing now (their files keep their previous good state). */
  refusals: Refusal[];
  /** The latest refusals, standing or since fixed, newest last (bounded). */
  recentRefusals: Refusal[];
  proxies: ProxyStatus[];
  /** The latest streams refused for naming a node they may not speak for, newest last (bounded). */
  refusedStreams: RefusedStream[];
}

export interface PolicyNotice {
  at: number;
  kind: "loosened" | "no-segments" | "below-min-segments";
  text: string;
}

export interface RefusedStream {
  at: number;
  nodeId: string;
  peer: string;
  identity?: string;
  /** The workload the refused stream claimed. */
  claimed: Workload;
  reason: string;
  message: string;
}
