// What the server says about policy changes that are valid but suspicious: a segment that lost a
// rule, a schedule or a limit ("loosened": a file truncated at a line boundary still parses), and
// a directory with no segment left (every selected workload now denies). --min-segments refuses
// the latter: the previous state stays in force.
import { describe, expect, it } from "vitest";
import { eventually, SotwEnvoy, sotwConfigs } from "../../testkit/xds/fake-envoy.js";
import { perTestServer } from "../../testkit/xds/server-fixture.js";

const srv = perTestServer();

const full = `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: db, namespace: shop }
spec:
  selector: { matchLabels: { app: db } }
  rules:
    - name: api
      ports: [5432]
      schedule:
        windows: [{ days: [Mon, Tue, Wed, Thu, Fri], start: "08:00", end: "18:00" }]
      limits:
        maxBytesIn: 10Mi
    - name: ops
      ports: [22]
`;
// The same file cut after its first rule's ports: still valid, far looser.
const truncated = full.split("\n").slice(0, 8).join("\n") + "\n";

const metric = async (name: string): Promise<string> =>
  (await srv.fx.server.metrics.registry.metrics()).split("\n").find((l) => l.startsWith(name)) ?? "";

describe("policy reports", () => {
  it("a segment that lost a rule, its schedule and a limit is served, and reported as loosened in status, metrics and the log", async () => {
    const fx = await srv.start({ "db.yaml": full });
    await fx.write("db.yaml", truncated);
    await eventually(() => fx.server.status().segments.length === 1 && fx.server.status().policyRevision > 1, 5000, "the new state");
    const notices = fx.server.status().policyNotices;
    const loosened = notices.filter((n) => n.kind === "loosened");
    expect(loosened.map((n) => n.text)).toEqual([
      expect.stringMatching(/^segment shop\/db loosened: rule api lost its schedule, limits\.maxBytesIn \(.*db\.yaml\)$/),
      expect.stringMatching(/^segment shop\/db loosened: rule ops removed \(.*db\.yaml\)$/),
    ]);
    expect(await metric("picoseg_policy_loosened_total")).toBe("picoseg_policy_loosened_total 2");
    expect(fx.logs.some((l) => /loosened: rule ops removed/.test(l))).toBe(true);
  });

  it("an edit that only tightens or adds is not reported", async () => {
    const fx = await srv.start({ "db.yaml": truncated });
    await fx.write("db.yaml", full);
    await eventually(() => fx.server.status().policyRevision > 1, 5000, "the new state");
    expect(fx.server.status().policyNotices).toEqual([]);
  });

  it("deleting every policy is reported: no segments, every selected workload now denies", async () => {
    const fx = await srv.start({ "db.yaml": full });
    await fx.remove("db.yaml");
    await eventually(() => fx.server.status().segments.length === 0, 5000, "the empty state");
    const st = fx.server.status();
    expect(st.noSegments).toBe(true);
    expect(st.policyNotices.map((n) => n.text)).toContain("no segments: every selected workload now denies");
    expect(await metric("picoseg_policy_no_segments")).toBe("picoseg_policy_no_segments 1");
    expect(fx.logs).toContain("picoseg: no segments: every selected workload now denies");
  });

  it("--min-segments refuses a state with fewer segments: proxies keep the previous config, and status says why", async () => {
    const fx = await srv.start({ "db.yaml": full }, { minSegments: 1 });
    const e = new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    srv.track(e);
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    expect(sotwConfigs(r)[0]!.configuration).toContain("segment shop/db");
    e.ack(r, ["picoseg"]);
    await fx.remove("db.yaml");
    await eventually(() => fx.server.status().policyNotices.some((n) => n.kind === "below-min-segments"), 5000, "the refusal");
    expect(await e.inbox.nothingWithin(400)).toBe(true);
    const st = fx.server.status();
    expect(st.segments).toEqual(["shop/db"]); // what is in force
    expect(st.policyNotices.at(-1)!.text).toBe("refused a state with 0 segments (--min-segments 1); the previous state stays in force");
    expect(await metric("picoseg_policy_held_states_total")).toBe("picoseg_policy_held_states_total 1");
    // Back to enough segments: applied again.
    await fx.write("db.yaml", full.replace("name: db,", "name: db2,"));
    const r2 = await e.inbox.next();
    expect(sotwConfigs(r2)[0]!.configuration).toContain("segment shop/db2");
  });

  it("--min-segments at start: not ready until the source has enough segments", async () => {
    const fx = await srv.start({}, { minSegments: 1 });
    expect((await fetch(`${fx.server.httpUrl}/readyz`)).status).toBe(503);
    await fx.write("db.yaml", full);
    await eventually(async () => (await fetch(`${fx.server.httpUrl}/readyz`)).status === 200, 5000, "ready");
  });
});

describe("refusal metrics", () => {
  it("count one refused document for one invalid document, and each of its errors in a second metric", async () => {
    const fx = await srv.start({ "db.yaml": full });
    const bad = full.replace("ports: [5432]", "ports: [99999]").replace("maxBytesIn: 10Mi", "maxBytesIn: lots").replace('start: "08:00"', 'start: "25:00"');
    await fx.write("db.yaml", bad);
    await eventually(() => fx.server.status().refusals.length === 3, 5000, "the refusal");
    expect(await metric("picoseg_policy_refused_documents_total")).toBe("picoseg_policy_refused_documents_total 1");
    expect(await metric("picoseg_policy_refusal_errors_total")).toBe("picoseg_policy_refusal_errors_total 3");
  });
});
