// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the
// holder renews the lease every `retryMs`; another replica takes it over once it has not seen
// the lease change for `leaseDurationMs` (timed with its own clock from when it observed the
// record, so replicas need no synchronised clocks). Writes go through resourceVersion
// preconditions, so two replicas racing for the lease cannot both win.
// Only status writing needs a single writer; every replica serves xDS all the time.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { errorText, httpCode } from "./client.js";

export interface LeaseOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This replica's identity (the pod name in a cluster). */
  identity: string;
  leaseDurationMs?: number;
  retryMs?: number;
  log?: (line: string) => void;
  onChange?: (leader: boolean) => void;
}

export class LeaseElector {
  private readonly api: CoordinationV1Api;
  private readonly durationMs: number;
  private readonly retryMs: number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** The lease as last read or written, and when (our clock) its content last changed. */
  private observed: { record: string; at: number } | undefined;
  /** When this replica last renewed successfully (our clock). */
  private renewedAt = 0;
  private leading = false;

  constructor(private readonly opts: LeaseOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.durationMs = opts.leaseDurationMs ?? 15_000;
    this.retryMs = opts.retryMs ?? 2_000;
    this.log = opts.log ?? ((line) => console.error(line));
  }

  /** True while this replica holds the lease and renewed it less than a lease duration ago. */
  isLeader(): boolean {
    return this.leading && Date.now() - this.renewedAt < this.durationMs;
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.attempt().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.retryMs);
      });
    };
    tick();
  }

  /** Stops trying; a leader gives the lease up so that another replica takes over at once. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity !== this.opts.identity) return;
      lease.spec.holderIdentity = undefined;
      lease.spec.leaseDurationSeconds = 1;
      await this.api.replaceNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace, body: lease });
    } catch (err) {
      this.log(`picoseg: releasing lease ${this.opts.namespace}/${this.opts.name} failed: ${errorText(err)}`);
    }
  }

  private async attempt(): Promise<void> {
    const now = new V1MicroTime();
    try {
      const lease = await this.read();
      if (!lease) {
        await this.api.createNamespacedLease({
          namespace: this.opts.namespace,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: this.spec(now, now, 0),
          },
        });
        this.renewed();
        return;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
      if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
      const mine = spec.holderIdentity === this.opts.identity;
      const expired =
        !spec.holderIdentity || Date.now() - this.observed.at > (spec.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
      if (!mine && !expired) {
        this.setLeading(false);
        return;
      }
      const transitions = (spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
      lease.spec = this.spec(mine && spec.acquireTime ? new V1MicroTime(spec.acquireTime) : now, now, transitions);
      await this.api.replaceNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace, body: lease });
      this.renewed();
    } catch (err) {
      // 409: another replica wrote first. Anything else: we cannot tell, so we do not lead.
      if (httpCode(err) !== 409) this.log(`picoseg: lease ${this.opts.namespace}/${this.opts.name}: ${errorText(err)}`);
      if (!this.isLeader()) this.setLeading(false);
    }
  }

  private spec(acquired: V1MicroTime, renewed: V1MicroTime, transitions: number): V1Lease["spec"] {
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.durationMs / 1000)),
      acquireTime: acquired,
      renewTime: renewed,
      leaseTransitions: transitions,
    };
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  private renewed(): void {
    this.renewedAt = Date.now();
    this.observed = undefined;
    this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.log(`picoseg: ${this.opts.identity} ${leading ? "now holds" : "no longer holds"} lease ${this.opts.namespace}/${this.opts.name}`);
    this.opts.onChange?.(leading);
  }
}
