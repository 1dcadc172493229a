// The pieces of the Kubernetes status path that need no API server: generations computed from
// the object alone (so replicas agree), the status a segment should carry, the proxy reports
// replicas share, and a reconnecting delta client's held versions counted as ACKed.
import { describe, expect, it } from "vitest";
import { localReach, mergeReach, reportLeaseName } from "../../xds-server/src/kube/replica-report.js";
import { desiredStatus } from "../../xds-server/src/kube/status-writer.js";
import { changedAtOf, type PicoSegmentObject, type SegmentObjectState } from "../../xds-server/src/kube/source.js";
import type { ProxyStatus } from "../../api/status.js";
import { DeltaEnvoy, eventually } from "../../testkit/xds/fake-envoy.js";
import { segment, startFixture } from "../../testkit/xds/server-fixture.js";

describe("changedAtOf: a segment's change time from the object itself", () => {
  // As the informer hands custom objects over: times are the wire's strings, not Dates.
  const obj = (generation: number, fields: Array<{ subresource?: string; time: string }>): PicoSegmentObject =>
    ({
      metadata: { name: "db", namespace: "shop", generation, creationTimestamp: "2026-01-01T00:00:00Z", managedFields: fields },
    }) as unknown as PicoSegmentObject;

  it("is the newest spec write (whole seconds) plus the generation modulo 1000; status writes do not count", () => {
    const o = obj(7, [
      { time: "2026-03-01T10:00:00Z" },
      { time: "2026-03-01T10:00:05Z" },
      { subresource: "status", time: "2026-03-01T11:00:00Z" },
    ]);
    expect(changedAtOf(o)).toBe(Date.parse("2026-03-01T10:00:05Z") + 7);
  });

  it("orders two spec changes within one second by generation", () => {
    const t = "2026-03-01T10:00:05Z";
    expect(changedAtOf(obj(3, [{ time: t }]))!).toBeGreaterThan(changedAtOf(obj(2, [{ time: t }]))!);
  });

  it("falls back to creationTimestamp, and to nothing without metadata", () => {
    expect(changedAtOf(obj(1, []))).toBe(Date.parse("2026-01-01T00:00:00Z") + 1);
    expect(changedAtOf({})).toBeUndefined();
  });
});

function proxy(id: string, labels: Record<string, string>, segments: string[], acked: boolean): ProxyStatus {
  return {
    nodeId: id,
    cluster: "c",
    workload: { namespace: "shop", labels, annotations: {} },
    segments,
    warnings: [],
    streams: [],
    resources: [{ name: "picoseg", current: "v2", ...(acked ? { acked: "v2" } : { acked: "v1" }) }],
  };
}

describe("the status a PicoSegment should carry", () => {
  const state = (o: Partial<SegmentObjectState>): SegmentObjectState => ({
    key: "shop/db",
    namespace: "shop",
    name: "db",
    generation: 3,
    appliedGeneration: 3,
    refusals: [],
    status: undefined,
    ...o,
  });

  it("accepted: True/Valid, and the counts of the proxies reached over all replicas", () => {
    const a = localReach([proxy("a", { app: "db" }, ["shop/db"], true), proxy("b", { app: "db" }, ["shop/db"], false)]);
    const b = localReach([proxy("c", { app: "db" }, ["shop/db"], true), proxy("d", { app: "other" }, ["shop/other"], true)]);
    const reach = mergeReach(mergeReach(new Map(), a), b);
    const s = desiredStatus(state({}), reach.get("shop/db"), new Date("2026-03-01T10:00:00.123Z"));
    expect(s).toMatchObject({ observedGeneration: 3, appliedGeneration: 3, proxies: 3, proxiesAcked: 2, workloads: 1 });
    expect(s.conditions).toEqual([
      { type: "Accepted", status: "True", reason: "Valid", message: "generation 3 is in force", observedGeneration: 3, lastTransitionTime: "2026-03-01T10:00:00Z" },
    ]);
  });

  it("refused: False/Invalid with every refusal and the generation that stays in force; the transition time moves only on a flip", () => {
    const refusals = [{ file: "picosegments/shop/db", line: 9, field: "spec.rules[0].ports[0]", message: "bad", text: "picosegments/shop/db:9: spec.rules[0].ports[0]: bad", at: 0 }];
    const previous = { conditions: [{ type: "Accepted", status: "False", lastTransitionTime: "2026-02-01T00:00:00Z" }] };
    const s = desiredStatus(state({ generation: 4, refusals, status: previous }), undefined, new Date());
    expect(s).toMatchObject({ observedGeneration: 4, appliedGeneration: 3, proxies: 0, proxiesAcked: 0, workloads: 0 });
    expect(s.conditions[0]).toMatchObject({
      status: "False",
      reason: "Invalid",
      message: "picosegments/shop/db:9: spec.rules[0].ports[0]: bad (generation 3 stays in force)",
      lastTransitionTime: "2026-02-01T00:00:00Z",
    });
    const never = desiredStatus(state({ generation: 1, appliedGeneration: undefined, refusals }), undefined, new Date());
    expect(never.appliedGeneration).toBeUndefined();
    expect(never.conditions[0]!.message).toMatch(/\(no version was ever accepted, so the segment is not in force\)$/);
  });

  it("replica report Lease names are DNS subdomains", () => {
    expect(reportLeaseName("picoseg-xds-7d9f_Abc:1")).toBe("picoseg-xds-replica-picoseg-xds-7d9f-abc-1");
  });
});

describe("a delta client reconnecting with initial_resource_versions", () => {
  it("counts as having ACKed the versions it holds when they are current (nothing is resent)", async () => {
    const fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const node = { id: "db-1", namespace: "shop", labels: { app: "db" } };
    const first = new DeltaEnvoy(fx.server.xdsAddress, "ecds", node);
    let version = "";
    try {
      first.subscribe(["picoseg"]);
      const r = await first.inbox.next();
      version = r.resources[0]!.version;
      first.ack(r);
    } finally {
      first.close();
    }
    const again = new DeltaEnvoy(fx.server.xdsAddress, "ecds", node);
    try {
      again.subscribe(["picoseg"], { picoseg: version });
      await eventually(() => fx.server.status().proxies[0]?.streams.length === 1 && fx.server.status().proxies[0]?.resources[0]?.acked === version, 5000, "acked on the new stream");
      const res = fx.server.status().proxies[0]!.resources[0]!;
      expect(res).toMatchObject({ current: version, acked: version });
      expect(res.sent).toBeUndefined(); // it was not sent again
    } finally {
      again.close();
      await fx.close();
    }
  });
});
