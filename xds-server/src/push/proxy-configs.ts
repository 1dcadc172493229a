// Content, not protocol: for every connected proxy, the segments that select its workload
// compiled into the filter's configuration, wrapped as the ECDS resources it asks for, and set
// as that proxy's snapshot in the cache. It listens to the stream callbacks only to learn
// which proxies are connected and which resource names they want.
import { MAX_CONFIG_BYTES, sizeText } from "../policy/limits.js";
import { segmentKey } from "../policy/load.js";
import type { CompiledConfig, LoadedSegment } from "../policy/types.js";
import type { Workload } from "../../../api/workload.js";
import type { SnapshotCache } from "../xds/cache/snapshot-cache.js";
import type { Snapshot, Subscription } from "../xds/cache/types.js";
import type { NodeInfo } from "../xds/node.js";
import { buildFilterResource, type WasmModuleSource } from "./resources.js";
import { type MarshaledResource } from "../xds/cache/resource.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../../api/resources.js";
import type { Callbacks, StreamInfo } from "../xds/server/callbacks.js";
import { workloadKey } from "../../../api/workload.js";

/** Proxies refreshed per turn of the event loop during a push. */
const PUSH_BATCH = 200;

export type CompileFn = (segments: LoadedSegment[], workload: Workload, opts?: { generation?: number }) => CompiledConfig;

/** What ProxyConfigs compiles from: the segments and when each changed (source/types.ts PolicyState). */
export interface PolicyInput {
  segments: readonly LoadedSegment[];
  changedAt: ReadonlyMap<string, number>;
  changeFloor: number;
}

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

type ResourcesByConfig = Map<string, Map<string, MarshaledResource>>;

/** What a proxy's snapshot holds for one config and one set of served names. */
interface Served {
  snapshot: Snapshot;
  /** Resource name → version (ProxyContent.currentVersions). */
  current: Readonly<Record<string, string>>;
}

export class ProxyConfigs implements Callbacks {
  private segments: LoadedSegment[] = [];
  private changedAt: ReadonlyMap<string, number> = new Map();
  private changeFloor = 0;
  /**
   * Per workload: its config without the generation line, the generation that body got, and
   * the config compiled with it (reused while the body stays: one compile, not two, for a
   * workload a policy change does not touch). The generation moves only when the body does, so
   * an unaffected proxy's bytes (and version) stay the same; it is the newest change time among
   * the segments that select the workload and the source's floor (deletions), and always above
   * the previous one — strictly increasing, as the filter's revocation requires
   * (filter/README.md "Revocation").
   */
  private readonly generations = new Map<string, { body: string; generation: number; compiled: CompiledConfig }>();
  /** Counts setPolicy calls: a refresh round in progress stops when a newer one starts. */
  private round = 0;
  private readonly proxies = new Map<string, ProxyEntry>();
  // Many proxies share a workload, and most share a config string: compile and marshal once.
  private compiledByWorkload = new Map<string, CompiledConfig>();
  /**
   * Marshaled resources by config string, then by resource name. The config is the outer key so
   * that the proxies of a workload look up the one string they share (hashed once) rather than
   * each building and hashing a name+config key as long as the config.
   */
  private resourcesByConfig: ResourcesByConfig = new Map();
  /**
   * Per config string, then per servedKey: the snapshot the proxies of a workload share (they
   * ask for the same names). Built once per push, not once per proxy; the cache only reads it.
   */
  private servedByConfig = new Map<string, Map<string, Served>>();

  constructor(private readonly opts: ProxyConfigsOptions) {}

  /**
   * New policy state: recompile for every connected proxy; unchanged ones get no push. Proxies
   * are refreshed in batches with a turn of the event loop between them, so that the first
   * responses leave (and their ACKs come back) while the rest are built, and a push to
   * thousands of proxies does not stall the server. A newer state abandons an older round.
   */
  setPolicy(policy: PolicyInput): void {
    this.segments = [...policy.segments];
    this.changedAt = policy.changedAt;
    this.changeFloor = policy.changeFloor;
    this.compiledByWorkload = new Map();
    const previous = this.resourcesByConfig;
    this.resourcesByConfig = new Map();
    this.servedByConfig = new Map();
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
    if (dirty) this.refresh(node.id, p, this.resourcesByConfig);
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
      this.refresh(id, p, this.resourcesByConfig);
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
      ...(p.error !== undefined ? { error: p.error } : {}),
    };
  }

  private namesOf(p: ProxyEntry): string[] {
    return (p.served ??= [...new Set([...this.opts.defaultResourceNames, ...p.names])].sort());
  }

  private refresh(id: string, p: ProxyEntry, reuse: ResourcesByConfig): void {
    let compiled: CompiledConfig;
    try {
      compiled = this.compileFor(p.node.workload);
    } catch (err) {
      p.error = `compile failed: ${err instanceof Error ? err.message : String(err)}`;
      return; // keep the previous snapshot
    }
    const bytes = configBytes(compiled);
    const max = this.opts.maxConfigBytes ?? MAX_CONFIG_BYTES;
    if (bytes > max) {
      // The proxy keeps its previous config: one past the limit would be refused by it (gRPC) or
      // cost every Envoy worker that much memory.
      const files = [...new Set(this.segments.filter((s) => compiled.segments.includes(segmentKey(s.segment))).map((s) => s.source.file))];
      const error = `compiled config is ${sizeText(bytes)}, more than ${sizeText(max)}: segments ${compiled.segments.join(", ")} from ${files.join(", ")}; previous config kept`;
      if (p.error !== error) this.opts.onError?.(id, error);
      p.error = error;
      return;
    }
    delete p.error;
    p.compiled = compiled;
    const served = this.servedFor(compiled.config, p, reuse);
    p.current = served.current;
    this.opts.cache.setSnapshot(id, served.snapshot);
  }

  /** The snapshot for `config` and p's names, built for the first proxy of a push that has both. */
  private servedFor(config: string, p: ProxyEntry, reuse: ResourcesByConfig): Served {
    const names = this.namesOf(p);
    const key = (p.servedKey ??= JSON.stringify(names));
    let byNames = this.servedByConfig.get(config);
    if (!byNames) this.servedByConfig.set(config, (byNames = new Map()));
    let served = byNames.get(key);
    if (served) return served;
    let byName = this.resourcesByConfig.get(config);
    if (!byName) this.resourcesByConfig.set(config, (byName = new Map()));
    const resources = new Map<string, MarshaledResource>();
    for (const name of names) {
      let r = byName.get(name) ?? reuse.get(config)?.get(name);
      if (!r) r = buildFilterResource(name, config, this.opts.module);
      byName.set(name, r);
      resources.set(name, r);
    }
    served = {
      snapshot: new Map([[TYPED_EXTENSION_CONFIG_TYPE, resources]]),
      current: Object.fromEntries([...resources].map(([n, r]) => [n, r.version])),
    };
    byNames.set(key, served);
    return served;
  }

  private compileFor(workload: Workload): CompiledConfig {
    const key = workloadKey(workload);
    let c = this.compiledByWorkload.get(key);
    if (!c) {
      const body = this.opts.compile(this.segments, workload);
      const seen = this.generations.get(key);
      if (seen && seen.body === body.config) {
        c = seen.compiled;
      } else {
        let generation = Math.max(this.changeFloor, ...body.segments.map((k) => this.changedAt.get(k) ?? 0));
        if (seen) generation = Math.max(generation, seen.generation + 1);
        c = this.opts.compile(this.segments, workload, { generation });
        this.generations.set(key, { body: body.config, generation, compiled: c });
      }
      this.compiledByWorkload.set(key, c);
    }
    return c;
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
