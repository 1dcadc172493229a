// The Kubernetes side of a replica beside its xDS serving: the Lease that makes one replica at a
// time the status writer, and the status writer itself.
import type { KubeConfig } from "@kubernetes/client-node";
import { hostname } from "node:os";
import type { ProxyStatus } from "../../../api/status.js";
import type { KubernetesSource } from "./source.js";
import { LeaseElector } from "./lease.js";
import { ReplicaReports } from "./replica-report.js";
import { StatusWriter } from "./status-writer.js";
import { defined } from "../util/index.js";

export interface KubeControlOptions {
  kubeConfig: KubeConfig;
  source: KubernetesSource;
  /** The proxies this replica serves now (the server's /status), for the segments' status counts. */
  proxies: () => ProxyStatus[];
  /** Where the Lease lives (the server's own namespace). */
  leaseNamespace: string;
  leaseName?: string;
  identity?: string;
  leaseDurationMs?: number;
  retryMs?: number;
  statusIntervalMs?: number;
  log?: (line: string) => void;
}

export interface KubeControl {
  lease: LeaseElector;
  status: StatusWriter;
  close(): Promise<void>;
}

/** A replica's identity: the pod name in a cluster (downward API), else host and pid. */
export function defaultIdentity(): string {
  return process.env["POD_NAME"] ?? `${hostname()}-${process.pid}`;
}

export function startKubeControl(o: KubeControlOptions): KubeControl {
  const identity = o.identity ?? defaultIdentity();
  const lease = new LeaseElector({
    kubeConfig: o.kubeConfig,
    namespace: o.leaseNamespace,
    name: o.leaseName ?? "picoseg-xds-status",
    identity,
    ...defined({ leaseDurationMs: o.leaseDurationMs, retryMs: o.retryMs }),
    ...(o.log ? { log: o.log } : {}),
  });
  const durationMs = o.leaseDurationMs ?? 15_000;
  const reports = new ReplicaReports({
    kubeConfig: o.kubeConfig,
    namespace: o.leaseNamespace,
    identity,
    renewMs: Math.max(500, Math.round(durationMs / 3)),
    staleMs: 3 * durationMs,
  });
  const status = new StatusWriter({
    kubeConfig: o.kubeConfig,
    objects: () => o.source.objectStates(),
    proxies: o.proxies,
    reports,
    isLeader: () => lease.isLeader(),
    fieldManager: `picoseg-${identity}`.slice(0, 128),
    ...defined({ intervalMs: o.statusIntervalMs }),
    ...(o.log ? { log: o.log } : {}),
  });
  lease.start();
  status.start();
  return {
    lease,
    status,
    async close() {
      await status.close();
      await lease.close();
    },
  };
}
