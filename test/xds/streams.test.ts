// ECDS over real gRPC, state-of-the-world and delta, over ADS and the standalone ECDS service: a
// grpc-js client plays Envoy against the real server. The rules both protocols keep run once per
// transport (FakeProxy); what the protocols do differently has tests of its own below.
import { describe, expect, it } from "vitest";
import { DeltaEnvoy, SotwEnvoy, deltaConfigs, eventually, sotwConfigs } from "../../testkit/xds/fake-envoy.js";
import { fakeProxy, type Answer, type FakeProxy, type Service, type Transport } from "../../testkit/xds/fake-proxy.js";
import { perTestServer, segment } from "../../testkit/xds/server-fixture.js";

const srv = perTestServer();
const node = (id: string, labels: Record<string, string>) => ({ id, namespace: "shop", labels });
const proxy = (transport: Transport, service: Service, id: string, labels: Record<string, string>): FakeProxy =>
  srv.track(fakeProxy(transport, srv.fx.server.xdsAddress, service, node(id, labels)));
const sotw = (service: Service, id: string, labels: Record<string, string>): SotwEnvoy =>
  srv.track(new SotwEnvoy(srv.fx.server.xdsAddress, service, node(id, labels)));
const delta = (service: Service, id: string, labels: Record<string, string>): DeltaEnvoy =>
  srv.track(new DeltaEnvoy(srv.fx.server.xdsAddress, service, node(id, labels)));
const generation = (config: string): number => Number(/^generation (\d+)$/m.exec(config)?.[1] ?? NaN);

const EVERY_TRANSPORT = (["sotw", "delta"] as const).flatMap((t) => (["ads", "ecds"] as const).map((s) => [t, s] as const));

describe.each(EVERY_TRANSPORT)("%s over %s", (transport, service) => {
  const envoy = (id: string, labels: Record<string, string>): FakeProxy => proxy(transport, service, id, labels);
  /** A proxy that subscribed to `picoseg` and ACKed the first answer, which it returns. */
  const ackedFirst = async (e: FakeProxy): Promise<Answer> => {
    e.subscribe(["picoseg"]);
    const r = await e.next();
    e.ack(r);
    return r;
  };

  it("answers a named subscription with the proxy's compiled config, then stays quiet after the ACK", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.next();
    const [cfg] = r.configs;
    expect(cfg!.name).toBe("picoseg");
    expect(cfg!.rootId).toBe("picoseg");
    expect(cfg!.runtime).toBe("envoy.wasm.runtime.v8");
    expect(cfg!.module.local).toBe(`${fx.dir}/picoseg.wasm`);
    expect(cfg!.configuration).toContain("segment shop/db enforce");
    expect(cfg!.configuration).toContain("port 5432 5432");
    e.ack(r);
    expect(await e.nothingWithin(300)).toBe(true);
    await eventually(() => {
      const res = fx.server.status().proxies[0]?.resources[0];
      return res !== undefined && res.acked !== undefined && res.acked === res.current && res.acked === res.sent;
    }, 5000, "ACK in status");
  });

  it("gives two proxies with different labels different configs", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db = envoy("db-1", { app: "db" });
    const api = envoy("api-1", { app: "api" });
    db.subscribe(["picoseg"]);
    api.subscribe(["picoseg"]);
    const dbCfg = (await db.next()).configs[0]!.configuration;
    const apiCfg = (await api.next()).configs[0]!.configuration;
    expect(dbCfg).toContain("segment shop/db");
    expect(dbCfg).not.toContain("shop/api");
    expect(apiCfg).toContain("segment shop/api");
    expect(apiCfg).not.toContain("shop/db");
  });

  it("pushes an edit only to the proxies it selects; identical workloads get identical versions", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db1 = envoy("db-1", { app: "db" });
    const db2 = envoy("db-2", { app: "db" });
    const api = envoy("api-1", { app: "api" });
    for (const e of [db1, db2, api]) e.subscribe(["picoseg"]);
    const [a, b, c] = await Promise.all([db1.next(), db2.next(), api.next()]);
    expect(a.version).toBe(b.version);
    expect(a.version).not.toBe(c.version);
    if (transport === "delta") {
      // Delta versions each resource too; the same content has the same version.
      expect(a.configs[0]!.version).toBe(b.configs[0]!.version);
      expect(a.configs[0]!.version).not.toBe(c.configs[0]!.version);
    }
    db1.ack(a);
    db2.ack(b);
    api.ack(c);

    await fx.write("api.yaml", segment("api", "api", 9090));
    const next = await api.next();
    expect(next.version).not.toBe(c.version);
    expect(next.configs[0]!.configuration).toContain("port 9090 9090");
    expect(await db1.nothingWithin(400)).toBe(true);
    expect(db2.pending).toBe(0);
  });

  it("keeps a NACKed version out of the stream until the content changes, with the detail in status", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("db-1", { app: "db" });
    const good = await ackedFirst(e);
    await eventually(() => fx.server.status().proxies[0]?.resources[0]?.acked !== undefined, 5000, "ACK");
    const goodVersion = fx.server.status().proxies[0]!.resources[0]!.acked!;
    await fx.write("db.yaml", segment("db", "db", 6000));
    const bad = await e.next();
    e.nack(bad, "wasm: failed to load module");
    expect(await e.nothingWithin(400)).toBe(true);
    const res = fx.server.status().proxies[0]!.resources[0]!;
    expect(res.acked).toBe(goodVersion);
    expect(res.sent).toBe(res.current);
    expect(res.sent).not.toBe(goodVersion);
    expect(res.nack).toMatchObject({ version: res.sent, detail: "wasm: failed to load module" });
    if (transport === "delta") {
      // The versions in status are the resource versions the responses carried.
      expect(res.acked).toBe(good.configs[0]!.version);
      expect(res.nack?.version).toBe(bad.configs[0]!.version);
    }
    const stream = fx.server.status().proxies[0]!.streams[0]!;
    expect(stream.versionSent).toBe(bad.version); // sotw version_info, as Envoy's config_dump shows it
    expect(stream.versionAcked).toBe(good.version);
    const nacks = new RegExp(`picoseg_xds_nacks_total\\{protocol="${transport}"\\} 1`);
    expect(await (await fetch(`${fx.server.httpUrl}/metrics`)).text()).toMatch(nacks);

    await fx.write("db.yaml", segment("db", "db", 7000));
    expect((await e.next()).configs[0]!.configuration).toContain("port 7000 7000");
  });

  it("refuses an invalid edit and keeps serving the previous segment", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("db-1", { app: "db" });
    await ackedFirst(e);
    await fx.write("db.yaml", segment("db", "db", 5432).replace("ports: [5432]", "ports: [99999]"));
    await eventually(() => fx.server.status().refusals.length > 0, 5000, "refusal");
    const refusal = fx.server.status().refusals[0]!;
    expect(fx.server.status().recentRefusals).toEqual([refusal]);
    expect(refusal.text).toMatch(/db\.yaml:\d+: spec\.rules\[0\]\.ports\[0\]: /);
    expect(await e.nothingWithin(300)).toBe(true);
    expect(fx.server.status().segments).toEqual(["shop/db"]);
    expect(await (await fetch(`${fx.server.httpUrl}/metrics`)).text()).toMatch(/picoseg_policy_refused_documents_total 1/);
    // A new proxy still gets the last good config.
    const late = envoy("db-2", { app: "db" });
    late.subscribe(["picoseg"]);
    expect((await late.next()).configs[0]!.configuration).toContain("port 5432 5432");
  });

  it("answers a wildcard subscription with the default resource", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("db-1", { app: "db" });
    e.subscribe([]);
    expect((await e.next()).configs.map((c) => c.name)).toEqual(["picoseg"]);
  });

  it("sends nothing to a reconnecting proxy that already holds the current version, and the update when it does not", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const first = envoy("db-1", { app: "db" });
    const r = await ackedFirst(first);
    first.close();
    await eventually(() => fx.server.status().proxies.length === 0, 5000, "proxy gone");

    const again = envoy("db-1", { app: "db" });
    again.subscribe(["picoseg"], r.held);
    expect(await again.nothingWithin(400)).toBe(true);
    again.close();
    await eventually(() => fx.server.status().proxies.length === 0, 5000, "proxy gone");

    const revision = fx.server.source.current()!.revision;
    await fx.write("db.yaml", segment("db", "db", 6000));
    await eventually(() => fx.server.source.current()!.revision > revision, 5000, "the reload");
    const third = envoy("db-1", { app: "db" });
    third.subscribe(["picoseg"], r.held);
    expect((await third.next()).configs[0]!.configuration).toContain("port 6000 6000");
  });

  it("a deleted policy file takes its segment away from the proxies it selected", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("db-1", { app: "db" });
    const first = await ackedFirst(e);
    const before = first.configs[0]!.configuration;
    await fx.remove("db.yaml");
    const after = (await e.next()).configs[0]!.configuration;
    expect(after).toMatch(/^picoseg 1\ngeneration \d+\nend\n$/);
    expect(generation(after)).toBeGreaterThan(generation(before));
  });
});

describe.each(["ads", "ecds"] as const)("where sotw and delta differ, over %s", (service) => {
  it("sotw: serves any name a proxy asks for, and answers a growing subscription with the whole view", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = sotw(service, "db-1", { app: "db" });
    e.subscribe(["inbound-5432"]);
    const r1 = await e.inbox.next();
    expect(sotwConfigs(r1).map((c) => c.name)).toEqual(["inbound-5432"]);
    e.ack(r1, ["inbound-5432"]);
    e.send({ resource_names: ["inbound-5432", "inbound-6000"], version_info: r1.version_info, response_nonce: r1.nonce });
    const r2 = await e.inbox.next();
    expect(sotwConfigs(r2).map((c) => c.name)).toEqual(["inbound-5432", "inbound-6000"]);
  });

  it("delta: each resource carries its own version and the removed names; its ACK marks that version in status", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = delta(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    const [cfg] = deltaConfigs(r);
    expect(cfg!.version).toMatch(/^[0-9a-f]{16}$/);
    expect(r.removed_resources).toEqual([]);
    e.ack(r);
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    await eventually(() => fx.server.status().proxies[0]?.resources[0]?.acked === cfg!.version, 5000, "ACK in status");
  });

  it("delta: subscribing to another name sends just that resource; unsubscribing sends nothing", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = delta(service, "db-1", { app: "db" });
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
});

describe("malformed streams", () => {
  it("a first request without a node is refused with INVALID_ARGUMENT", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = sotw("ads", "", { app: "db" }); // an empty id: no usable node
    e.subscribe(["picoseg"]);
    const err = await e.inbox.next().then(
      () => undefined,
      (x: unknown) => x as { code?: number; details?: string },
    );
    expect(err?.code).toBe(3); // INVALID_ARGUMENT
    expect(err?.details).toMatch(/node/);
  });

  it("an ADS request without type_url is refused; the standalone ECDS service assumes its one type", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const ads = sotw("ads", "db-1", { app: "db" });
    ads.send({ resource_names: ["picoseg"], type_url: "" });
    const err = await ads.inbox.next().then(
      () => undefined,
      (x: unknown) => x as { code?: number; details?: string },
    );
    expect(err?.code).toBe(3);
    const ecds = sotw("ecds", "db-2", { app: "db" });
    ecds.send({ resource_names: ["picoseg"], type_url: "" });
    expect(sotwConfigs(await ecds.inbox.next())[0]!.name).toBe("picoseg");
  });
});

describe("ADS streams carrying other types", () => {
  it("leave types picoseg does not serve unanswered (an empty LDS answer would drop listeners) and still serve ECDS", async () => {
    await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = sotw("ads", "db-1", { app: "db" });
    e.send({ type_url: "type.googleapis.com/envoy.config.listener.v3.Listener", resource_names: [] });
    e.send({ resource_names: ["picoseg"] });
    const r = await e.inbox.next();
    expect(r.type_url).toBe("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig");
    expect(await e.inbox.nothingWithin(300)).toBe(true);
  });

  it("ignore a request answering an older nonce (the client has not seen the latest response yet)", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = sotw("ads", "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r1 = await e.inbox.next();
    e.ack(r1, ["picoseg"]);
    await fx.write("db.yaml", segment("db", "db", 6000));
    const r2 = await e.inbox.next();
    // A late request on r1's nonce asking for more names: stale, so nothing is sent for it.
    e.send({ resource_names: ["picoseg", "other"], version_info: r1.version_info, response_nonce: r1.nonce });
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    e.ack(r2, ["picoseg"]);
    expect(await e.inbox.nothingWithin(300)).toBe(true);
  });
});

describe("generations (what the filter's revocation compares)", () => {
  it("rise with every change of a proxy's config and stay put for an unaffected proxy", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db = delta("ecds", "db-1", { app: "db" });
    const api = delta("ecds", "api-1", { app: "api" });
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
    const api2 = delta("ecds", "api-2", { app: "api" });
    api2.subscribe(["picoseg"]);
    expect(deltaConfigs(await api2.inbox.next())[0]!.version).toBe(deltaConfigs(apiFirst)[0]!.version);
  });
});

describe("edits that change nothing", () => {
  it("a comment-only edit or a touch pushes nothing to anyone", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = delta("ads", "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    e.ack(await e.inbox.next());
    const revision = fx.server.source.current()!.revision;
    await fx.write("db.yaml", `# reviewed by ops\n${segment("db", "db", 5432)}`);
    await eventually(() => fx.server.source.current()!.revision > revision, 5000, "the reload");
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    await fx.write("db.yaml", `# reviewed by ops\n${segment("db", "db", 5432)}`); // same bytes, new mtime
    expect(await e.inbox.nothingWithin(300)).toBe(true);
  });
});

describe("server restart", () => {
  it("a client reconnecting to a fresh server with the same policies is already up to date", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const e = delta("ads", "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    const held = { picoseg: deltaConfigs(r)[0]!.version };
    e.close();
    const dir = fx.dir;
    await fx.server.close();
    const { startXdsServer } = await import("../../xds-server/src/server/server.js");
    const again = await startXdsServer({ policies: dir, xdsPort: 0, httpPort: 0, log: () => {}, wasmPath: `${dir}/picoseg.wasm` });
    try {
      const c = srv.track(new DeltaEnvoy(again.xdsAddress, "ads", node("db-1", { app: "db" })));
      c.subscribe(["picoseg"], held);
      expect(await c.inbox.nothingWithin(400)).toBe(true);
      expect(again.status().proxies.map((p) => p.nodeId)).toEqual(["db-1"]);
    } finally {
      await again.close();
    }
  });
});
