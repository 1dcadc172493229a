// A node id belongs to the first stream that claims it with its metadata: a second stream naming
// the same id with other metadata (another namespace, an audit workload's labels) is refused and
// reported, and never changes what the first stream receives.
import { afterEach, describe, expect, it } from "vitest";
import { DeltaEnvoy, eventually, SotwEnvoy, sotwConfigs } from "../../testkit/xds/fake-envoy.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

let fx: Fixture | undefined;
const clients: Array<SotwEnvoy | DeltaEnvoy> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx?.close();
  fx = undefined;
});
const track = <T extends SotwEnvoy | DeltaEnvoy>(c: T): T => {
  clients.push(c);
  return c;
};
const failure = (p: Promise<unknown>): Promise<{ code?: number; details?: string } | undefined> =>
  p.then(
    () => undefined,
    (x: unknown) => x as { code?: number; details?: string },
  );

const auditApi = `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: api, namespace: analytics }
spec:
  selector: { matchLabels: { app: api } }
  mode: audit
  rules: [{ name: any }]
`;

describe("node claims", () => {
  it("refuse a second stream claiming a live node id with other metadata; the first stream receives nothing new", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432), "api.yaml": auditApi });
    const real = track(new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } }));
    real.subscribe(["picoseg"]);
    const first = await real.inbox.next();
    expect(sotwConfigs(first)[0]!.configuration).toContain("segment shop/db enforce");
    real.ack(first, ["picoseg"]);

    for (const service of ["ads", "ecds"] as const) {
      const attacker = track(new SotwEnvoy(fx.server.xdsAddress, service, { id: "db-1", namespace: "analytics", labels: { app: "api" } }));
      attacker.subscribe(["picoseg"]);
      const err = await failure(attacker.inbox.next());
      expect(err?.code).toBe(6); // ALREADY_EXISTS
      expect(err?.details).toMatch(/node id "db-1" is held by another stream with other metadata/);
    }
    const deltaAttacker = track(new DeltaEnvoy(fx.server.xdsAddress, "ecds", { id: "db-1", namespace: "analytics", labels: { app: "api" } }));
    deltaAttacker.subscribe(["picoseg"]);
    expect((await failure(deltaAttacker.inbox.next()))?.code).toBe(6);

    expect(await real.inbox.nothingWithin(400)).toBe(true);
    const st = fx.server.status();
    expect(st.proxies).toHaveLength(1);
    expect(st.proxies[0]!.workload.namespace).toBe("shop");
    expect(st.proxies[0]!.streams).toHaveLength(1);
    expect(st.refusedStreams).toHaveLength(3);
    expect(st.refusedStreams[0]).toMatchObject({ nodeId: "db-1", reason: "node-claim-conflict" });
    expect(st.refusedStreams[0]!.claimed.namespace).toBe("analytics");
    const metrics = await fx.server.metrics.registry.metrics();
    expect(metrics).toMatch(/picoseg_xds_refused_streams_total\{reason="node-claim-conflict"\} 3/);
    expect(fx.logs.some((l) => /refused xDS stream .*node id "db-1"/.test(l))).toBe(true);
  });

  it("serve a second stream of the same node with the same metadata (ADS and ECDS of one Envoy)", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const a = track(new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } }));
    const b = track(new DeltaEnvoy(fx.server.xdsAddress, "ecds", { id: "db-1", namespace: "shop", labels: { app: "db" } }));
    a.subscribe(["picoseg"]);
    b.subscribe(["picoseg"]);
    expect(sotwConfigs(await a.inbox.next())[0]!.configuration).toContain("segment shop/db");
    expect((await b.inbox.next()).resources).toHaveLength(1);
    expect(fx.server.status().refusedStreams).toHaveLength(0);
  });

  it("free a node id once its last stream closed: the next claim with other metadata is served its own config", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432), "api.yaml": auditApi });
    const old = new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "n-1", namespace: "shop", labels: { app: "db" } });
    old.subscribe(["picoseg"]);
    await old.inbox.next();
    old.close();
    await eventually(() => fx!.server.status().proxies.length === 0, 5000, "the old stream to close");
    const next = track(new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "n-1", namespace: "analytics", labels: { app: "api" } }));
    next.subscribe(["picoseg"]);
    expect(sotwConfigs(await next.inbox.next())[0]!.configuration).toContain("segment analytics/api audit");
  });
});

describe("streams per peer", () => {
  it("are bounded: past the limit a stream is refused with RESOURCE_EXHAUSTED, and a closed one frees its place", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) }, { maxStreamsPerPeer: 3 });
    const held = [1, 2, 3].map((i) => track(new SotwEnvoy(fx!.server.xdsAddress, "ads", { id: `n-${i}`, namespace: "shop", labels: { app: "db" } })));
    for (const e of held) {
      e.subscribe(["picoseg"]);
      await e.inbox.next();
    }
    const extra = track(new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "n-4", namespace: "shop", labels: { app: "db" } }));
    extra.subscribe(["picoseg"]);
    const err = await failure(extra.inbox.next());
    expect(err?.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(err?.details).toMatch(/127\.0\.0\.1 already holds 3 xDS streams \(at most 3 per peer address\)/);
    expect(fx.server.status().refusedStreams.map((r) => r.reason)).toEqual(["peer-stream-limit"]);
    held[0]!.close();
    await eventually(() => fx!.server.status().proxies.length === 2, 5000, "the closed stream to go");
    const next = track(new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "n-5", namespace: "shop", labels: { app: "db" } }));
    next.subscribe(["picoseg"]);
    expect(sotwConfigs(await next.inbox.next())[0]!.configuration).toContain("segment shop/db");
  });
});
