// ProxyConfigs on its own: what a policy change costs per workload.
import { describe, expect, it } from "vitest";
import { compileForWorkload, validatePolicyText } from "../../xds-server/src/policy/index.js";
import type { CompileOptions, LoadedSegment } from "../../xds-server/src/policy/types.js";
import type { Workload } from "../../api/workload.js";
import { SnapshotCache } from "../../xds-server/src/xds/cache/snapshot-cache.js";
import { ProxyConfigs } from "../../xds-server/src/push/proxy-configs.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../api/resources.js";
import type { StreamInfo } from "../../xds-server/src/xds/server/callbacks.js";
import { segment } from "../../testkit/xds/server-fixture.js";

const segmentsOf = (text: string): LoadedSegment[] => validatePolicyText(text, "p.yaml").segments;

describe("ProxyConfigs", () => {
  it("compiles a workload a policy change does not touch once, and keeps its bytes", () => {
    const compiled: string[] = [];
    const cache = new SnapshotCache();
    const configs = new ProxyConfigs({
      cache,
      compile: (segments: LoadedSegment[], workload: Workload, opts?: CompileOptions) => {
        compiled.push(workload.labels["app"]!);
        return compileForWorkload(segments, workload, opts);
      },
      module: { kind: "local", filename: "/picoseg.wasm" },
      defaultResourceNames: ["picoseg"],
    });
    const db = segment("db", "db", 5432);
    configs.setPolicy({ segments: segmentsOf(db), changedAt: new Map([["shop/db", 1000]]), changeFloor: 0 });
    const stream: StreamInfo = {
      id: 1,
      service: "ecds",
      protocol: "delta",
      peer: "test",
      openedAt: 0,
      node: { id: "web-1", cluster: "", metadata: {}, workload: { namespace: "shop", labels: { app: "web" }, annotations: {} } },
    };
    configs.onStreamRequest(stream, TYPED_EXTENSION_CONFIG_TYPE, { wildcard: false, names: new Set(["picoseg"]) });
    const before = cache.getSnapshot("web-1")?.get(TYPED_EXTENSION_CONFIG_TYPE)?.get("picoseg");
    expect(before).toBeDefined();

    // A new segment for another app: web's config (and generation) stay as they were.
    compiled.length = 0;
    configs.setPolicy({
      segments: segmentsOf(`${db}---\n${segment("api", "api", 8080)}`),
      changedAt: new Map([["shop/db", 1000], ["shop/api", 2000]]),
      changeFloor: 0,
    });
    expect(compiled).toEqual(["web"]);
    expect(cache.getSnapshot("web-1")?.get(TYPED_EXTENSION_CONFIG_TYPE)?.get("picoseg")).toBe(before);
  });
});
