// Which proxies each replica serves, shared through the API. A proxy is connected to one replica
// only, so the status writer (the Lease holder) must add up what every replica sees: each replica
// keeps a Lease of its own, `picoseg-xds-replica-<id>`, renewed like a heartbeat, whose
// annotation lists per segment the proxies it reaches, how many ACKed, and its workloads (hashed).
// A report not renewed for `staleMs` is a replica that is gone, and no longer counts.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import type { ProxyStatus } from "../../../api/status.js";
import { httpCode } from "./client.js";

export const REPORT_LABEL = "picoseg.io/replica-report";
const REPORT_ANNOTATION = "picoseg.io/proxies";

/** Per segment (`namespace/name`): the proxies reached, how many ACKed, and their workloads. */
export interface SegmentReach {
  proxies: number;
  acked: number;
  workloads: Set<string>;
}
export type Reach = Map<string, SegmentReach>;

/** What this replica's own connected proxies give. */
export function localReach(proxies: readonly ProxyStatus[]): Reach {
  const out: Reach = new Map();
  for (const p of proxies) {
    const acked = p.resources.length > 0 && p.resources.every((r) => r.current !== undefined && r.acked === r.current);
    const workload = createHash("sha256")
      .update(JSON.stringify([p.workload.namespace, p.workload.labels, p.workload.annotations]))
      .digest("hex")
      .slice(0, 16);
    for (const seg of p.segments) {
      let r = out.get(seg);
      if (!r) out.set(seg, (r = { proxies: 0, acked: 0, workloads: new Set() }));
      r.proxies++;
      if (acked) r.acked++;
      r.workloads.add(workload);
    }
  }
  return out;
}

/** Adds `b` into `a` (workloads as a union: one workload served by two replicas counts once). */
export function mergeReach(a: Reach, b: Reach): Reach {
  for (const [seg, r] of b) {
    const into = a.get(seg);
    if (!into) {
      a.set(seg, { proxies: r.proxies, acked: r.acked, workloads: new Set(r.workloads) });
      continue;
    }
    into.proxies += r.proxies;
    into.acked += r.acked;
    for (const w of r.workloads) into.workloads.add(w);
  }
  return a;
}

function encode(reach: Reach): string {
  const obj: Record<string, [number, number, string[]]> = {};
  for (const [seg, r] of [...reach].sort(([x], [y]) => (x < y ? -1 : 1))) obj[seg] = [r.proxies, r.acked, [...r.workloads].sort()];
  return JSON.stringify(obj);
}

function decode(text: string | undefined): Reach {
  const out: Reach = new Map();
  if (!text) return out;
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    for (const [seg, v] of Object.entries(obj)) {
      if (!Array.isArray(v) || typeof v[0] !== "number" || typeof v[1] !== "number" || !Array.isArray(v[2])) continue;
      out.set(seg, { proxies: v[0], acked: v[1], workloads: new Set((v[2] as unknown[]).filter((w): w is string => typeof w === "string")) });
    }
  } catch {
    // a report we cannot read counts as empty
  }
  return out;
}

/** A Lease name for a replica identity (DNS-1123 subdomain, at most 253 characters). */
export function reportLeaseName(identity: string): string {
  const clean = identity.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  return `picoseg-xds-replica-${clean || "x"}`.slice(0, 253);
}

export interface ReplicaReportsOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  identity: string;
  /** Renew the own report at least this often. */
  renewMs: number;
  /** Ignore reports older than this (replicas that are gone). */
  staleMs: number;
}

export class ReplicaReports {
  private readonly api: CoordinationV1Api;
  private readonly name: string;
  private last: { text: string; at: number } | undefined;

  constructor(private readonly opts: ReplicaReportsOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.name = reportLeaseName(opts.identity);
  }

  /** Writes this replica's reach when it changed, or to renew it. */
  async publish(reach: Reach): Promise<void> {
    const text = encode(reach);
    if (this.last && this.last.text === text && Date.now() - this.last.at < this.opts.renewMs) return;
    const spec = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.opts.staleMs / 1000)),
      renewTime: new V1MicroTime(),
    };
    const metadata = {
      name: this.name,
      namespace: this.opts.namespace,
      labels: { [REPORT_LABEL]: "true" },
      annotations: { [REPORT_ANNOTATION]: text },
    };
    let current: V1Lease | undefined;
    try {
      current = await this.api.readNamespacedLease({ name: this.name, namespace: this.opts.namespace });
    } catch (err) {
      if (httpCode(err) !== 404) throw err;
    }
    if (current) {
      await this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.opts.namespace,
        body: { ...current, metadata: { ...current.metadata, ...metadata }, spec: { ...current.spec, ...spec } },
      });
    } else {
      await this.api.createNamespacedLease({ namespace: this.opts.namespace, body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata, spec } });
    }
    this.last = { text, at: Date.now() };
  }

  /** The reach reported by the other replicas whose reports are fresh. */
  async others(): Promise<Reach> {
    const list = await this.api.listNamespacedLease({ namespace: this.opts.namespace, labelSelector: `${REPORT_LABEL}=true` });
    const out: Reach = new Map();
    for (const lease of list.items) {
      if (lease.metadata?.name === this.name) continue;
      const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
      if (!(Date.now() - renewed < this.opts.staleMs)) continue;
      mergeReach(out, decode(lease.metadata?.annotations?.[REPORT_ANNOTATION]));
    }
    return out;
  }
}
