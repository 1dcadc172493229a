// The snapshots proxies are served, built once per distinct content: many proxies share a
// workload and most share a config string, so each (config, resource name) is marshaled once per
// policy state and each (config, set of names) snapshot is built once per push; the cache only
// reads them.
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../../api/resources.js";
import type { MarshaledResource, Snapshot } from "../xds/index.js";
import { buildFilterResource, type WasmModuleSource } from "./resources.js";

/** Marshaled resources by config string, then by resource name. */
export type ResourcesByConfig = Map<string, Map<string, MarshaledResource>>;

/** What a proxy's snapshot holds for one config and one set of served names. */
export interface Served {
  snapshot: Snapshot;
  /** Resource name → version (ProxyContent.currentVersions). */
  current: Readonly<Record<string, string>>;
}

export class SharedSnapshots {
  /**
   * The config is the outer key so that the proxies of a workload look up the one string they
   * share (hashed once) rather than each building and hashing a name+config key as long as the
   * config.
   */
  private resourcesByConfig: ResourcesByConfig = new Map();
  /** Per config string, then per served-names key: the snapshot the proxies of a workload share. */
  private servedByConfig = new Map<string, Map<string, Served>>();

  constructor(private readonly module: WasmModuleSource) {}

  /** The resources built so far (what a refresh outside a round may reuse). */
  get current(): ResourcesByConfig {
    return this.resourcesByConfig;
  }

  /** A new policy state: starts afresh and returns the last state's resources, for the round to reuse. */
  newRound(): ResourcesByConfig {
    const previous = this.resourcesByConfig;
    this.resourcesByConfig = new Map();
    this.servedByConfig = new Map();
    return previous;
  }

  /**
   * The snapshot for `config` and the sorted `names` (`key` is their JSON), built for the first
   * proxy of a push that has both; a resource of `reuse` with the same content is not marshaled again.
   */
  served(config: string, names: readonly string[], key: string, reuse: ResourcesByConfig): Served {
    let byNames = this.servedByConfig.get(config);
    if (!byNames) this.servedByConfig.set(config, (byNames = new Map()));
    let served = byNames.get(key);
    if (served) return served;
    let byName = this.resourcesByConfig.get(config);
    if (!byName) this.resourcesByConfig.set(config, (byName = new Map()));
    const resources = new Map<string, MarshaledResource>();
    for (const name of names) {
      let r = byName.get(name) ?? reuse.get(config)?.get(name);
      if (!r) r = buildFilterResource(name, config, this.module);
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
}
