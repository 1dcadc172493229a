// The versioned cache: one snapshot per proxy (node id), and the watches streams hold on it.
// Setting a snapshot answers only the watches whose view actually changed, so a proxy whose
// resources are byte-identical to before receives nothing.
import { createHash } from "node:crypto";
import type { MarshaledResource } from "./resource.js";
import type {
  CancelWatch,
  ConfigWatcher,
  DeltaWatchRequest,
  DeltaWatchResponse,
  Snapshot,
  SotwWatchRequest,
  SotwWatchResponse,
  Subscription,
} from "./types.js";

interface SotwWatch {
  kind: "sotw";
  request: SotwWatchRequest;
  respond: (r: SotwWatchResponse) => void;
}
interface DeltaWatch {
  kind: "delta";
  request: DeltaWatchRequest;
  respond: (r: DeltaWatchResponse) => void;
}
type Watch = SotwWatch | DeltaWatch;

interface NodeEntry {
  snapshot: Snapshot;
  setAt: number;
  watches: Set<Watch>;
}

const EMPTY: ReadonlyMap<string, MarshaledResource> = new Map();

/** The resources of `typeUrl` a subscription covers, sorted by name (stable versions). */
export function subscribedView(snapshot: Snapshot | undefined, typeUrl: string, sub: Subscription): MarshaledResource[] {
  const all = snapshot?.get(typeUrl) ?? EMPTY;
  const out: MarshaledResource[] = [];
  if (sub.wildcard) {
    out.push(...all.values());
  } else {
    for (const name of sub.names) {
      const r = all.get(name);
      if (r) out.push(r);
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// The usual view is one resource, shared by every proxy of a workload: hash it once per resource
// object (its name and version never change), not once per proxy on every push.
const singleViewVersions = new WeakMap<MarshaledResource, string>();

/** Version of a set of resources: a hash of their names and content versions. */
export function viewVersion(resources: readonly MarshaledResource[]): string {
  const only = resources.length === 1 ? resources[0] : undefined;
  if (only) {
    let v = singleViewVersions.get(only);
    if (v === undefined) singleViewVersions.set(only, (v = hashView(resources)));
    return v;
  }
  return hashView(resources);
}

function hashView(resources: readonly MarshaledResource[]): string {
  const h = createHash("sha256");
  for (const r of resources) h.update(`${r.name}\0${r.version}\n`);
  return h.digest("hex").slice(0, 16);
}

export class SnapshotCache implements ConfigWatcher {
  private readonly nodes = new Map<string, NodeEntry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Replaces a node's snapshot and answers the watches whose view changed. */
  setSnapshot(nodeId: string, snapshot: Snapshot): void {
    const entry = this.entry(nodeId);
    entry.snapshot = snapshot;
    entry.setAt = this.now();
    for (const w of [...entry.watches]) {
      if (this.tryAnswer(entry, w)) entry.watches.delete(w);
    }
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.nodes.get(nodeId)?.snapshot;
  }

  /**
   * Forgets a node once its last stream closed (the streams cancelled their watches first), so
   * that churning node ids do not accumulate.
   */
  clearSnapshot(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  /** Number of open watches, for tests and metrics. */
  watchCount(): number {
    let n = 0;
    for (const e of this.nodes.values()) n += e.watches.size;
    return n;
  }

  createWatch(request: SotwWatchRequest, respond: (r: SotwWatchResponse) => void): CancelWatch {
    return this.open({ kind: "sotw", request, respond });
  }

  createDeltaWatch(request: DeltaWatchRequest, respond: (r: DeltaWatchResponse) => void): CancelWatch {
    return this.open({ kind: "delta", request, respond });
  }

  private open(watch: Watch): CancelWatch {
    const entry = this.entry(watch.request.nodeId);
    if (this.tryAnswer(entry, watch)) return () => {};
    entry.watches.add(watch);
    return () => {
      entry.watches.delete(watch);
    };
  }

  private entry(nodeId: string): NodeEntry {
    let e = this.nodes.get(nodeId);
    if (!e) {
      e = { snapshot: new Map(), setAt: this.now(), watches: new Set() };
      this.nodes.set(nodeId, e);
    }
    return e;
  }

  /** Answers the watch if the snapshot has something it lacks; true when answered. */
  private tryAnswer(entry: NodeEntry, watch: Watch): boolean {
    const { typeUrl, subscription } = watch.request;
    // A type this node's snapshot does not carry is not ours to answer: an empty sotw response
    // would tell an ADS client that every listener or cluster it has is gone.
    if (!entry.snapshot.has(typeUrl)) return false;
    const view = subscribedView(entry.snapshot, typeUrl, subscription);
    if (watch.kind === "sotw") {
      const version = viewVersion(view);
      if (version === watch.request.knownVersion) return false;
      watch.respond({ version, resources: view, snapshotSetAt: entry.setAt });
      return true;
    }
    const known = watch.request.known;
    const changed = view.filter((r) => known.get(r.name) !== r.version);
    // Only names still in the subscription can be "removed"; unsubscribed ones are simply forgotten.
    const removed: string[] = [];
    if (known.size > 0) {
      // Every push answers one watch per proxy: no name set for the usual view of one resource.
      const present = view.length === 1 ? undefined : new Set(view.map((r) => r.name));
      for (const name of known.keys()) {
        const inView = present ? present.has(name) : view[0]?.name === name;
        if (!inView && (subscription.wildcard || subscription.names.has(name))) removed.push(name);
      }
    }
    if (changed.length === 0 && removed.length === 0) return false;
    watch.respond({ resources: changed, removed, systemVersion: viewVersion(view), snapshotSetAt: entry.setAt });
    return true;
  }
}
