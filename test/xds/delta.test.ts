// Delta ECDS over real gRPC: a grpc-js client plays Envoy against the real server.
import { afterEach, describe, expect, it } from "vitest";
import { DeltaEnvoy, deltaConfigs, eventually } from "./fake-envoy.js";
import { segment, startFixture, type Fixture } from "./server-fixture.js";

let fx: Fixture | undefined;
const clients: DeltaEnvoy[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx?.close();
  fx = undefined;
});
const envoy = (service: "ads" | "ecds", id: string, labels: Record<string, string>, annotations?: Record<string, string>): DeltaEnvoy => {
  const c = new DeltaEnvoy(fx!.server.xdsAddress, service, { id, namespace: "shop", labels, ...(annotations ? { annotations } : {}) });
  clients.push(c);
  return c;
};

describe.each(["ads", "ecds"] as const)("delta over %s", (service) => {
  it("answers a named subscription with a versioned resource, then stays quiet after the ACK", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    const [cfg] = deltaConfigs(r);
    expect(cfg!.name).toBe("picoseg");
    expect(cfg!.configuration).toContain("segment shop/db enforce");
    expect(cfg!.version).toMatch(/^[0-9a-f]{16}$/);
    expect(r.removed_resources).toEqual([]);
    e.ack(r);
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    await eventually(() => fx!.server.status().proxies[0]?.resources[0]?.acked === cfg!.version, 5000, "ACK in status");
  });

  it("pushes an edit only to the proxies it selects; identical workloads get identical versions", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db1 = envoy(service, "db-1", { app: "db" });
    const db2 = envoy(service, "db-2", { app: "db" });
    const api = envoy(service, "api-1", { app: "api" });
    for (const e of [db1, db2, api]) e.subscribe(["picoseg"]);
    const [a, b, c] = await Promise.all([db1.inbox.next(), db2.inbox.next(), api.inbox.next()]);
    expect(deltaConfigs(a)[0]!.version).toBe(deltaConfigs(b)[0]!.version);
    expect(deltaConfigs(a)[0]!.version).not.toBe(deltaConfigs(c)[0]!.version);
    db1.ack(a);
    db2.ack(b);
    api.ack(c);

    await fx.write("api.yaml", segment("api", "api", 9090));
    const next = await api.inbox.next();
    expect(deltaConfigs(next)[0]!.configuration).toContain("port 9090 9090");
    expect(await db1.inbox.nothingWithin(300)).toBe(true);
    expect(db2.inbox.pending).toBe(0);
  });

  it("does not resend a NACKed resource; the proxy stays on its ACKed version and status keeps the detail", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const good = await e.inbox.next();
    e.ack(good);
    await fx.write("db.yaml", segment("db", "db", 6000));
    const bad = await e.inbox.next();
    e.nack(bad, "sha256 mismatch");
    expect(await e.inbox.nothingWithin(400)).toBe(true);
    const res = fx.server.status().proxies[0]!.resources[0]!;
    expect(res.acked).toBe(deltaConfigs(good)[0]!.version);
    expect(res.nack).toMatchObject({ version: deltaConfigs(bad)[0]!.version, detail: "sha256 mismatch" });
    await fx.write("db.yaml", segment("db", "db", 7000));
    expect(deltaConfigs(await e.inbox.next())[0]!.configuration).toContain("port 7000 7000");
  });

  it("a wildcard subscriber receives the default resource", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe([]);
    expect(deltaConfigs(await e.inbox.next()).map((c) => c.name)).toEqual(["picoseg"]);
  });

  it("subscribing to another name sends just that resource; unsubscribing sends nothing", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["a"]);
    const r1 = await e.inbox.next();
    e.ack(r1);
    e.send({ resource_names_subscribe: ["b"] });
    const r2 = await e.inbox.next();
    expect(deltaConfigs(r2).map((c) => c.name)).toEqual(["b"]);
    e.ack(r2);
    e.send({ resource_names_unsubscribe: ["a"] });
    expect(await e.inbox.nothingWithin(300)).toBe(true);
  });

  it("resyncs a reconnecting proxy from its initial_resource_versions: nothing if current, the new version if not", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const first = envoy(service, "db-1", { app: "db" });
    first.subscribe(["picoseg"]);
    const r = await first.inbox.next();
    first.ack(r);
    const held = { picoseg: deltaConfigs(r)[0]!.version };
    first.close();
    await eventually(() => fx!.server.status().proxies.length === 0, 5000, "proxy gone");

    const again = envoy(service, "db-1", { app: "db" });
    again.subscribe(["picoseg"], held);
    expect(await again.inbox.nothingWithin(400)).toBe(true);
    again.close();
    await eventually(() => fx!.server.status().proxies.length === 0, 5000, "proxy gone");

    await fx.write("db.yaml", segment("db", "db", 6000));
    await eventually(() => fx!.server.source.current()!.revision >= 2, 5000, "reload");
    const third = envoy(service, "db-1", { app: "db" });
    third.subscribe(["picoseg"], held);
    expect(deltaConfigs(await third.inbox.next())[0]!.configuration).toContain("port 6000 6000");
  });

  it("a deleted policy file takes its segment away from the proxies it selected", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const first = await e.inbox.next();
    e.ack(first);
    const before = deltaConfigs(first)[0]!.configuration;
    await fx.remove("db.yaml");
    const after = deltaConfigs(await e.inbox.next())[0]!.configuration;
    expect(after).toMatch(/^picoseg 1\ngeneration \d+\nend\n$/);
    expect(generation(after)).toBeGreaterThan(generation(before));
  });
});

const generation = (config: string): number => Number(/^generation (\d+)$/m.exec(config)?.[1] ?? NaN);

describe("generations (what the filter's revocation compares)", () => {
  it("rise with every change of a proxy's config and stay put for an unaffected proxy", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db = envoy("ecds", "db-1", { app: "db" });
    const api = envoy("ecds", "api-1", { app: "api" });
    db.subscribe(["picoseg"]);
    api.subscribe(["picoseg"]);
    const dbFirst = await db.inbox.next();
    db.ack(dbFirst);
    const g = [generation(deltaConfigs(dbFirst)[0]!.configuration)];
    const apiFirst = await api.inbox.next();
    api.ack(apiFirst);
    expect(g[0]).toBeGreaterThan(0);
    for (const port of [6000, 6001, 6002]) {
      await fx.write("db.yaml", segment("db", "db", port));
      const r = await db.inbox.next();
      db.ack(r);
      g.push(generation(deltaConfigs(r)[0]!.configuration));
    }
    expect(g[1]).toBeGreaterThan(g[0]!);
    expect(g[2]).toBeGreaterThan(g[1]!);
    expect(g[3]).toBeGreaterThan(g[2]!);
    expect(await api.inbox.nothingWithin(200)).toBe(true);
    // A proxy connecting later to the unchanged workload gets the same bytes, generation included.
    const api2 = envoy("ecds", "api-2", { app: "api" });
    api2.subscribe(["picoseg"]);
    expect(deltaConfigs(await api2.inbox.next())[0]!.version).toBe(deltaConfigs(apiFirst)[0]!.version);
  });
});

describe("edits that change nothing", () => {
  it("a comment-only edit or a touch pushes nothing to anyone", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("ads", "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    e.ack(await e.inbox.next());
    const revision = fx.server.source.current()!.revision;
    await fx.write("db.yaml", `# reviewed by ops\n${segment("db", "db", 5432)}`);
    await eventually(() => fx!.server.source.current()!.revision > revision, 5000, "the reload");
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    await fx.write("db.yaml", `# reviewed by ops\n${segment("db", "db", 5432)}`); // same bytes, new mtime
    expect(await e.inbox.nothingWithin(300)).toBe(true);
  });
});

describe("server restart", () => {
  it("a client reconnecting to a fresh server with the same policies is already up to date", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("ads", "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    const held = { picoseg: deltaConfigs(r)[0]!.version };
    e.close();
    const dir = fx.dir;
    await fx.server.close();
    const { startXdsServer } = await import("../../xds-server/src/server.js");
    const again = await startXdsServer({ policies: dir, xdsPort: 0, httpPort: 0, log: () => {}, wasmPath: `${dir}/picoseg.wasm` });
    try {
      const c = new DeltaEnvoy(again.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
      clients.push(c);
      c.subscribe(["picoseg"], held);
      expect(await c.inbox.nothingWithin(400)).toBe(true);
      expect(again.status().proxies.map((p) => p.nodeId)).toEqual(["db-1"]);
    } finally {
      await again.close();
    }
  });
});
