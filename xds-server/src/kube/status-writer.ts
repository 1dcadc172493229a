// Writes each PicoSegment's status through the status subresource: the Accepted condition (with
// the refusal's `object:line: field: message` and which version stays in force),
// observedGeneration, and how many connected proxies the segment reaches and how many ACKed
// their current version, over all replicas (replica-report.ts). Only the replica holding the
// Lease writes; it compares with what each object carries, so a new leader rewrites nothing that
// is already right.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { SegmentObjectState } from "./source.js";
import type { ProxyStatus } from "../../../api/status.js";
import { errorText, GROUP, PLURAL, VERSION } from "./client.js";
import { localReach, mergeReach, type Reach, type ReplicaReports, type SegmentReach } from "./replica-report.js";
import { defined } from "../util/index.js";

export interface AcceptedCondition {
  type: "Accepted";
  status: "True" | "False";
  reason: "Valid" | "Invalid";
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export interface PicoSegmentStatus {
  observedGeneration: number;
  appliedGeneration?: number;
  workloads: number;
  proxies: number;
  proxiesAcked: number;
  conditions: AcceptedCondition[];
}

/** The status an object should carry, given what the server holds and the proxies it reaches. */
export function desiredStatus(obj: SegmentObjectState, reach: SegmentReach | undefined, now: Date): PicoSegmentStatus {
  const accepted = obj.refusals.length === 0;
  const inForce =
    obj.appliedGeneration !== undefined
      ? `generation ${obj.appliedGeneration} stays in force`
      : "no version was ever accepted, so the segment is not in force";
  const message = accepted ? `generation ${obj.generation} is in force` : `${obj.refusals.map((r) => r.text).join("; ")} (${inForce})`;
  const previous = currentAccepted(obj.status);
  const status: "True" | "False" = accepted ? "True" : "False";
  return {
    observedGeneration: obj.generation,
    ...defined({ appliedGeneration: obj.appliedGeneration }),
    workloads: reach?.workloads.size ?? 0,
    proxies: reach?.proxies ?? 0,
    proxiesAcked: reach?.acked ?? 0,
    conditions: [
      {
        type: "Accepted",
        status,
        reason: accepted ? "Valid" : "Invalid",
        message,
        observedGeneration: obj.generation,
        // Kubernetes conditions keep the time of the last True/False flip, in whole seconds.
        lastTransitionTime:
          previous?.status === status && previous.lastTransitionTime ? previous.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, "Z"),
      },
    ],
  };
}

function currentAccepted(status: unknown): { status?: string; lastTransitionTime?: string } | undefined {
  if (typeof status !== "object" || status === null) return undefined;
  const conditions = (status as { conditions?: unknown }).conditions;
  if (!Array.isArray(conditions)) return undefined;
  return conditions.find((c: unknown) => typeof c === "object" && c !== null && (c as { type?: unknown }).type === "Accepted") as
    | { status?: string; lastTransitionTime?: string }
    | undefined;
}

/** The fields we own, compared as the API returns them (it keeps our key order and drops nothing). */
function sameStatus(current: unknown, want: PicoSegmentStatus): boolean {
  if (typeof current !== "object" || current === null) return false;
  const c = current as Record<string, unknown>;
  return (Object.keys(want) as Array<keyof PicoSegmentStatus>).every((k) => JSON.stringify(c[k]) === JSON.stringify(want[k])) &&
    (want.appliedGeneration !== undefined || c["appliedGeneration"] === undefined);
}

export interface StatusWriterOptions {
  kubeConfig: KubeConfig;
  objects: () => SegmentObjectState[];
  proxies: () => readonly ProxyStatus[];
  /** Where replicas share the proxies each reaches. */
  reports: ReplicaReports;
  /** Whether this replica may write now (holds the Lease). */
  isLeader: () => boolean;
  /** The field manager our writes are recorded under (managedFields shows which replica wrote). */
  fieldManager: string;
  intervalMs?: number;
  log?: (line: string) => void;
}

export class StatusWriter {
  private readonly api: CustomObjectsApi;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** What we last wrote per object (by uid-less key + generation), to skip identical patches. */
  private readonly written = new Map<string, string>();
  readonly stats = { patches: 0, failures: 0 };

  constructor(private readonly opts: StatusWriterOptions) {
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.sync().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000);
      });
    };
    tick();
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: report our proxies; as the leader, patch every object whose status differs. */
  async sync(): Promise<void> {
    const local = localReach(this.opts.proxies());
    try {
      await this.opts.reports.publish(local);
    } catch (err) {
      this.opts.log?.(`picoseg: publishing this replica's proxy report failed: ${errorText(err)}`);
    }
    if (!this.opts.isLeader()) {
      this.written.clear(); // another replica may write meanwhile: compare with the API again when we lead
      return;
    }
    let reach: Reach;
    try {
      reach = mergeReach(mergeReach(new Map(), local), await this.opts.reports.others());
    } catch (err) {
      // Counts from this replica alone would be wrong: write nothing this round.
      this.opts.log?.(`picoseg: reading the other replicas' proxy reports failed: ${errorText(err)}`);
      return;
    }
    const now = new Date();
    for (const obj of this.opts.objects()) {
      const want = desiredStatus(obj, reach.get(obj.key), now);
      const text = JSON.stringify(want);
      if (sameStatus(obj.status, want) || this.written.get(obj.key) === text) continue;
      try {
        // A merge patch of status only: `null` removes a field we no longer report.
        const body = { status: { ...want, ...(want.appliedGeneration === undefined ? { appliedGeneration: null } : {}) } };
        await this.api.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace: obj.namespace, plural: PLURAL, name: obj.name, body, fieldManager: this.opts.fieldManager },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
        this.written.set(obj.key, text);
        this.stats.patches++;
      } catch (err) {
        this.stats.failures++;
        this.written.delete(obj.key);
        this.opts.log?.(`picoseg: writing status of picosegments/${obj.key} failed: ${errorText(err)}`);
      }
    }
  }
}
