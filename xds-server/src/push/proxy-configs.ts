// Content, not protocol: for every connected proxy, the segments that select its workload
// compiled into the filter's configuration (compiler.ts), wrapped as the ECDS resources it asks
// for (snapshots.ts), and set as that proxy's snapshot in the cache, unless it is too large. It
// listens to the stream callbacks only to learn which proxies are connected and which resource
// names they want; a policy change refreshes them in batches.
import { MAX_CONFIG_BYTES, sizeText, segmentKey, type CompiledConfig } from "../policy/index.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../../api/resources.js";
import type { SnapshotCache, Subscription, NodeInfo, Callbacks, StreamInfo } from "../xds/index.js";
import { WorkloadCompiler, type CompileFn, type PolicyInput } from "./compiler.js";
import type { WasmModuleSource } from "./resources.js";
import { SharedSnapshots, type ResourcesByConfig } from "./snapshots.js";
import { defined, errorMessage } from "../util/index.js";

/** Proxies refreshed per turn of the event loop during a push. */
const PUSH_BATCH = 200;

export interface ProxyConfigsOptions {
  cache: SnapshotCache;
  compile: CompileFn;
  module: WasmModuleSource;
  /** Names served to a wildcard subscriber (sidecars ask by name; see xds-server/src/bootstrap/bootstrap.ts). */
  defaultResourceNames: readonly string[];
  /** A compiled config larger than this is not served (policy/limits.ts MAX_CONFIG_BYTES). */
  maxConfigBytes?: number;
  /** Told once per proxy and failure (status shows it too). */
  onError?: (nodeId: string, message: string) => void;
}

/** What status shows about one proxy's content. */
export interface ProxyContent {
  node: NodeInfo;
  streams: number[];
  resourceNames: string[];
  segments: string[];
  warnings: string[];
  /** The compiled configuration string currently in its snapshot. */
  config?: string;
  /** Resource name → version currently in its snapshot. */
  currentVersions: Record<string, string>;
  /** A compile failure; the proxy keeps its previous snapshot meanwhile. */
  error?: string;
}

interface ProxyEntry {
  node: NodeInfo;
  streams: Set<number>;
  /** ECDS names each stream subscribes to by name; the snapshot covers their union. */
  namesByStream: Map<number, ReadonlySet<string>>;
  names: Set<string>;
  /** namesOf(): the served names, sorted; built once per change of `names`, not per push. */
  served?: string[];
  /** `served` as one string: the key of what the proxies with these names share. */
  servedKey?: string;
  compiled?: CompiledConfig;
  current: Readonly<Record<string, string>>;
  error?: string;
}

export class ProxyConfigs implements Callbacks {
  /** Counts setPolicy calls: a refresh round in progress stops when a newer one starts. */
  private round = 0;
  private readonly proxies = new Map<string, ProxyEntry>();
  private readonly compiler: WorkloadCompiler;
  private readonly snapshots: SharedSnapshots;

  constructor(private readonly opts: ProxyConfigsOptions) {
    this.compiler = new WorkloadCompiler(opts.compile);
    this.snapshots = new SharedSnapshots(opts.module);
  }

  /**
   * New policy state: recompile for every connected proxy; unchanged ones get no push. Proxies
   * are refreshed in batches with a turn of the event loop between them, so that the first
   * responses leave (and their ACKs come back) while the rest are built, and a push to
   * thousands of proxies does not stall the server. A newer state abandons an older round.
   */
  setPolicy(policy: PolicyInput): void {
    this.compiler.setPolicy(policy);
    const previous = this.snapshots.newRound();
    const round = ++this.round;
    const ids = [...this.proxies.keys()];
    const step = (from: number): void => {
      if (round !== this.round) return;
      const to = Math.min(ids.length, from + PUSH_BATCH);
      for (let i = from; i < to; i++) {
        const id = ids[i]!;
        const p = this.proxies.get(id);
        if (p) this.refresh(id, p, previous);
      }
      if (to < ids.length) setImmediate(step, to);
    };
    step(0);
  }

  onStreamRequest(stream: StreamInfo, typeUrl: string, subscription: Subscription): void {
    const node = stream.node;
    if (!node) return;
    let p = this.proxies.get(node.id);
    let dirty = false;
    if (!p) {
      p = { node, streams: new Set(), namesByStream: new Map(), names: new Set(), current: {} };
      this.proxies.set(node.id, p);
      dirty = true;
    }
    // Every stream of one node id carries the same workload: NodeClaims (claims.ts) refuses a
    // stream that names a held id with other metadata, so p.node never changes under a stream.
    if (!p.streams.has(stream.id)) p.streams.add(stream.id);
    if (typeUrl === TYPED_EXTENSION_CONFIG_TYPE && !sameSet(p.namesByStream.get(stream.id), subscription.names)) {
      p.namesByStream.set(stream.id, subscription.names);
      dirty = this.recomputeNames(p) || dirty;
    }
    if (dirty) this.refresh(node.id, p, this.snapshots.current);
  }

  onStreamClosed(stream: StreamInfo): void {
    const id = stream.node?.id;
    if (id === undefined) return;
    const p = this.proxies.get(id);
    if (!p) return;
    p.streams.delete(stream.id);
    p.namesByStream.delete(stream.id);
    if (p.streams.size === 0) {
      this.proxies.delete(id);
      this.opts.cache.clearSnapshot(id);
    } else if (this.recomputeNames(p)) {
      this.refresh(id, p, this.snapshots.current);
    }
  }

  /** Sets `names` to the union of the streams' names; true when it changed. */
  private recomputeNames(p: ProxyEntry): boolean {
    const union = new Set<string>();
    for (const names of p.namesByStream.values()) for (const n of names) union.add(n);
    if (sameSet(union, p.names)) return false;
    p.names = union;
    delete p.served;
    delete p.servedKey;
    return true;
  }

  proxyIds(): string[] {
    return [...this.proxies.keys()];
  }

  /**
   * Every connected proxy's node and stream ids: what the decision counters poll each second
   * (server.ts), without the copies describe() makes for status (thousands of proxies, every
   * second, during pushes too).
   */
  nodes(): { id: string; node: NodeInfo; streams: number[] }[] {
    const out: { id: string; node: NodeInfo; streams: number[] }[] = [];
    for (const [id, p] of this.proxies) out.push({ id, node: p.node, streams: [...p.streams] });
    return out;
  }

  describe(id: string): ProxyContent | undefined {
    const p = this.proxies.get(id);
    if (!p) return undefined;
    return {
      node: p.node,
      streams: [...p.streams],
      resourceNames: [...this.namesOf(p)],
      segments: p.compiled?.segments ?? [],
      warnings: p.compiled?.warnings ?? [],
      ...(p.compiled ? { config: p.compiled.config } : {}),
      currentVersions: { ...p.current },
      ...defined({ error: p.error }),
    };
  }

  private namesOf(p: ProxyEntry): string[] {
    return (p.served ??= [...new Set([...this.opts.defaultResourceNames, ...p.names])].sort());
  }

  private refresh(id: string, p: ProxyEntry, reuse: ResourcesByConfig): void {
    let compiled: CompiledConfig;
    try {
      compiled = this.compiler.compile(p.node.workload);
    } catch (err) {
      p.error = `compile failed: ${errorMessage(err)}`;
      return; // keep the previous snapshot
    }
    const bytes = configBytes(compiled);
    const max = this.opts.maxConfigBytes ?? MAX_CONFIG_BYTES;
    if (bytes > max) {
      // The proxy keeps its previous config: one past the limit would be refused by it (gRPC) or
      // cost every Envoy worker that much memory.
      const files = [...new Set(this.compiler.policySegments.filter((s) => compiled.segments.includes(segmentKey(s.segment))).map((s) => s.source.file))];
      const error = `compiled config is ${sizeText(bytes)}, more than ${sizeText(max)}: segments ${compiled.segments.join(", ")} from ${files.join(", ")}; previous config kept`;
      if (p.error !== error) this.opts.onError?.(id, error);
      p.error = error;
      return;
    }
    delete p.error;
    p.compiled = compiled;
    const names = this.namesOf(p);
    const served = this.snapshots.served(compiled.config, names, (p.servedKey ??= JSON.stringify(names)), reuse);
    p.current = served.current;
    this.opts.cache.setSnapshot(id, served.snapshot);
  }
}

// A compiled config never changes: measure its UTF-8 size once, not once per proxy per push.
const configSizes = new WeakMap<CompiledConfig, number>();

function configBytes(c: CompiledConfig): number {
  let n = configSizes.get(c);
  if (n === undefined) configSizes.set(c, (n = Buffer.byteLength(c.config)));
  return n;
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
