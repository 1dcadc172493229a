// PicoSegment custom resources from the Kubernetes API, behind the same PolicySource interface as
// the directory. Each object is validated on its own, exactly like a policy file: an invalid
// update is refused and that object's last good version stays in force.
// The list/watch is @kubernetes/client-node's ListWatch (the informer): it resumes a watch from
// the last resourceVersion, relists on 410 Gone, and keeps the object cache. Two things are added
// here: bookmarks and a server-side timeout are asked for (ListWatch does not), and the
// informer, which stops on any other error (API server unreachable), is restarted with backoff
// while the last state stays. client-node 1.4 rather than 2.x: 2.x needs Node >= 22.19 (undici 8).
import { CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { errorText, GROUP, PLURAL, serverOf, VERSION } from "./client.js";
import { SegmentStore, type FileValidator, type PolicySource, type PolicyState } from "../source/index.js";
import type { Refusal } from "../../../api/status.js";

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  /** Only this namespace; all namespaces by default. */
  namespace?: string;
  validateFile: FileValidator;
  /** First delay before restarting a failed list or watch; doubles up to 30 s. */
  retryMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

/**
 * A PicoSegment as the informer hands it over. Custom objects are not deserialized by the client:
 * metadata times arrive as RFC 3339 strings whatever V1ObjectMeta's types say (see millis()).
 */
export interface PicoSegmentObject extends KubernetesObject {
  spec?: unknown;
  status?: unknown;
}

/** One custom resource as the status writer needs it. */
export interface SegmentObjectState {
  /** `namespace/name`, as segments are named in compiled configs and status. */
  key: string;
  namespace: string;
  name: string;
  /** metadata.generation of the latest version seen. */
  generation: number;
  /** metadata.generation of the version in force; undefined when none was ever accepted. */
  appliedGeneration: number | undefined;
  /** Why the latest version was refused (empty when it was accepted). */
  refusals: readonly Refusal[];
  /** The status the object carries now, as last seen. */
  status: unknown;
}

interface Tracked {
  object: PicoSegmentObject;
  appliedGeneration: number | undefined;
}

/** Counts of the informer's requests, for tests and logs. */
export interface WatchStats {
  lists: number;
  watches: number;
  restarts: number;
}

export class KubernetesSource implements PolicySource {
  readonly description: string;
  readonly stats: WatchStats = { lists: 0, watches: 0, restarts: 0 };
  /** By `namespace/name`; an object's segments change when this server sees its new version. */
  private readonly objects: SegmentStore;
  private readonly tracked = new Map<string, Tracked>();
  private readonly informer: ListWatch<PicoSegmentObject>;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private closed = false;
  private delay: number;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Set during the first list: the first publish waits for the whole list. */
  private listing = false;
  /** Refusals met during the first list, reported with the first publish. */
  private initialRefusals: Refusal[] = [];
  /**
   * Deletions leave no trace in the API, so the floor of generations (source/types.ts) moves to
   * the whole second after a deletion was seen: two replicas seeing the same deletion usually
   * agree on it. Everything else comes from the objects themselves (changedAtOf).
   */
  private floor = 0;

  constructor(private readonly opts: KubernetesSourceOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((line) => console.error(line));
    this.delay = opts.retryMs ?? 1000;
    this.objects = new SegmentStore(opts.validateFile, this.now);
    const path = collectionPath(opts.namespace);
    this.description = `kubernetes:${serverOf(opts.kubeConfig)}${path}`;
    const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const ns = opts.namespace;
    const list = async (): Promise<KubernetesListObject<PicoSegmentObject>> => {
      this.stats.lists++;
      const body: unknown =
        ns === undefined
          ? await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
          : await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL });
      return body as KubernetesListObject<PicoSegmentObject>;
    };
    // ListWatch does not ask for bookmarks; without them a quiet collection's resourceVersion
    // ages out of the API server's window and every reconnect becomes a relist. A server-side
    // timeout renews the watch now and then, so a connection that died silently is not kept.
    const watch = new Watch(opts.kubeConfig);
    const withBookmarks = {
      watch: (p: string, query: Record<string, string | number | boolean | undefined>, cb: Parameters<Watch["watch"]>[2], done: Parameters<Watch["watch"]>[3]) => {
        this.stats.watches++;
        return watch.watch(p, { ...query, allowWatchBookmarks: true, timeoutSeconds: 300 }, cb, done);
      },
    } as Watch;
    this.informer = new ListWatch<PicoSegmentObject>(path, withBookmarks, list, false);
    this.informer.on("add", (o) => this.onUpsert(o));
    this.informer.on("update", (o) => this.onUpsert(o));
    this.informer.on("delete", (o) => this.onDelete(o));
    this.informer.on("error", (err) => this.onError(err));
  }

  async start(): Promise<PolicyState> {
    let failure: unknown;
    const onFirstError = (err: unknown): void => {
      failure ??= err ?? new Error("list failed");
    };
    this.informer.on("error", onFirstError);
    this.listing = true;
    try {
      await this.informer.start(); // resolves once the list is in and the watch is open
    } finally {
      this.listing = false;
      this.informer.off("error", onFirstError);
    }
    if (failure !== undefined) {
      this.closed = true;
      await this.informer.stop();
      throw new Error(`${this.description}: ${errorText(failure)}`);
    }
    const fresh = this.initialRefusals;
    this.initialRefusals = [];
    return this.objects.publish(this.floor, fresh);
  }

  current(): PolicyState | undefined {
    return this.objects.current();
  }

  onChange(listener: (state: PolicyState, newRefusals: readonly Refusal[]) => void): () => void {
    return this.objects.onChange(listener);
  }

  /** Every custom resource seen, with what the status writer reports about it. */
  objectStates(): SegmentObjectState[] {
    return [...this.tracked].map(([key, t]) => ({
      key,
      namespace: t.object.metadata?.namespace ?? "",
      name: t.object.metadata?.name ?? "",
      generation: t.object.metadata?.generation ?? 0,
      appliedGeneration: t.appliedGeneration,
      refusals: this.objects.refusalsOf(key),
      status: t.object.status,
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  private onUpsert(obj: PicoSegmentObject): void {
    const key = keyOf(obj);
    if (!key) return;
    const prev = this.tracked.get(key);
    const fresh: Refusal[] = [];
    const changed = this.upsert(key, obj, fresh);
    const refused = this.objects.refusalsOf(key).length > 0;
    this.tracked.set(key, {
      object: obj,
      appliedGeneration: refused ? prev?.appliedGeneration : obj.metadata?.generation,
    });
    this.delay = this.opts.retryMs ?? 1000; // an event means the watch works
    if (this.listing) this.initialRefusals.push(...fresh);
    else if (changed) this.objects.publish(this.floor, fresh);
  }

  private onDelete(obj: PicoSegmentObject): void {
    const key = keyOf(obj);
    if (!key) return;
    this.tracked.delete(key);
    if (!this.objects.delete(key)) return;
    this.floor = Math.max(this.floor, Math.ceil(this.now() / 1000) * 1000);
    if (!this.listing) this.objects.publish(this.floor, []);
  }

  /** The informer stopped (API server unreachable, a watch refused…): the last state stays; restart later. */
  private onError(err: unknown): void {
    if (this.closed || this.listing) return;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, 30_000);
    this.log(`picoseg: kubernetes list/watch failed (${errorText(err)}); last state stays in force, retrying in ${delay} ms`);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.closed) return;
      this.stats.restarts++;
      // start() resumes from the last resourceVersion; the list is redone only after a 410.
      this.informer.start().catch((e: unknown) => this.onError(e));
    }, delay);
  }

  /** Validates an object that changed; true when it did. A refused update keeps the last good segments. */
  private upsert(key: string, obj: PicoSegmentObject, fresh: Refusal[]): boolean {
    // Only what the operator wrote: resourceVersion, managedFields, status… must not count as edits.
    const { apiVersion, kind, spec } = obj;
    const md = obj.metadata ?? {};
    const text = stringify({
      apiVersion,
      kind,
      metadata: {
        name: md.name,
        namespace: md.namespace,
        ...(md.labels ? { labels: md.labels } : {}),
        ...(md.annotations ? { annotations: md.annotations } : {}),
      },
      spec,
    });
    return this.objects.update(key, `picosegments/${key}`, text, fresh, changedAtOf(obj) ?? this.now());
  }
}

function collectionPath(namespace: string | undefined): string {
  const ns = namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `/apis/${GROUP}/${VERSION}${ns}/${PLURAL}`;
}

function keyOf(obj: PicoSegmentObject): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  return `${obj.metadata?.namespace ?? "default"}/${name}`;
}

function millis(t: unknown): number | undefined {
  const ms = t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * When the operator last wrote the object, from the object itself, so that every replica (and a
 * restarted one) computes the same generations and so the same config versions: the newest
 * managedFields time outside the status subresource (whole seconds), plus metadata.generation
 * modulo 1000 to order several spec changes within one second.
 */
export function changedAtOf(obj: PicoSegmentObject): number | undefined {
  const md = obj.metadata;
  if (!md) return undefined;
  let newest: number | undefined;
  for (const f of md.managedFields ?? []) {
    if (f.subresource === "status") continue;
    const t = millis(f.time);
    if (t !== undefined && (newest === undefined || t > newest)) newest = t;
  }
  newest ??= millis(md.creationTimestamp);
  if (newest === undefined) return undefined;
  return Math.floor(newest / 1000) * 1000 + ((md.generation ?? 0) % 1000);
}
