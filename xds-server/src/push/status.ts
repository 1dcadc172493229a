// /status per proxy: its content (the segments that select it, the config and versions in its
// snapshot, compile errors) joined with its streams' protocol state (what was sent, ACKed, NACKed).
import type { ProxyStatus, ResourceStatus } from "../../../api/status.js";
import type { StreamTracker } from "../xds/index.js";
import type { ProxyConfigs } from "./proxy-configs.js";
import { defined } from "../util/index.js";

/** Every connected proxy, by node id. */
export function proxyStatuses(configs: ProxyConfigs, tracker: StreamTracker): ProxyStatus[] {
  const out: ProxyStatus[] = [];
  for (const id of configs.proxyIds().sort()) {
    const c = configs.describe(id);
    if (!c) continue;
    const { streams, resources } = tracker.view(c.streams);
    for (const [name, version] of Object.entries(c.currentVersions)) {
      const s: ResourceStatus = resources.get(name) ?? { name };
      s.current = version;
      resources.set(name, s);
    }
    const generation = /^generation (\d+)$/m.exec(c.config ?? "")?.[1];
    out.push({
      nodeId: id,
      cluster: c.node.cluster,
      workload: c.node.workload,
      segments: c.segments,
      ...(generation !== undefined ? { generation: Number(generation) } : {}),
      warnings: c.warnings,
      ...defined({ error: c.error }),
      streams,
      resources: [...resources.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    });
  }
  return out;
}
