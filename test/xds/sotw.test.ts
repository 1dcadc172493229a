// State-of-the-world ECDS over real gRPC: a grpc-js client plays Envoy against the real server.
import { afterEach, describe, expect, it } from "vitest";
import { eventually, SotwEnvoy, sotwConfigs } from "./fake-envoy.js";
import { segment, startFixture, type Fixture } from "./server-fixture.js";

let fx: Fixture | undefined;
const clients: SotwEnvoy[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx?.close();
  fx = undefined;
});
const envoy = (service: "ads" | "ecds", id: string, labels: Record<string, string>): SotwEnvoy => {
  const c = new SotwEnvoy(fx!.server.xdsAddress, service, { id, namespace: "shop", labels });
  clients.push(c);
  return c;
};

describe.each(["ads", "ecds"] as const)("sotw over %s", (service) => {
  it("answers a named subscription with the proxy's compiled config, then stays quiet after the ACK", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    const [cfg] = sotwConfigs(r);
    expect(cfg!.name).toBe("picoseg");
    expect(cfg!.rootId).toBe("picoseg");
    expect(cfg!.runtime).toBe("envoy.wasm.runtime.v8");
    expect(cfg!.module.local).toBe(`${fx.dir}/picoseg.wasm`);
    expect(cfg!.configuration).toContain("segment shop/db enforce");
    expect(cfg!.configuration).toContain("port 5432 5432");
    e.ack(r, ["picoseg"]);
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    await eventually(() => {
      const res = fx!.server.status().proxies[0]?.resources[0];
      return res !== undefined && res.acked !== undefined && res.acked === res.current && res.acked === res.sent;
    }, 5000, "ACK in status");
  });

  it("gives two proxies with different labels different configs", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db = envoy(service, "db-1", { app: "db" });
    const api = envoy(service, "api-1", { app: "api" });
    db.subscribe(["picoseg"]);
    api.subscribe(["picoseg"]);
    const dbCfg = sotwConfigs(await db.inbox.next())[0]!.configuration;
    const apiCfg = sotwConfigs(await api.inbox.next())[0]!.configuration;
    expect(dbCfg).toContain("segment shop/db");
    expect(dbCfg).not.toContain("shop/api");
    expect(apiCfg).toContain("segment shop/api");
    expect(apiCfg).not.toContain("shop/db");
  });

  it("pushes a policy edit to the proxies it selects, and nothing to the others", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432), "api.yaml": segment("api", "api", 8080) });
    const db = envoy(service, "db-1", { app: "db" });
    const api = envoy(service, "api-1", { app: "api" });
    db.subscribe(["picoseg"]);
    api.subscribe(["picoseg"]);
    const r1 = await db.inbox.next();
    db.ack(r1, ["picoseg"]);
    api.ack(await api.inbox.next(), ["picoseg"]);

    await fx.write("db.yaml", segment("db", "db", 6543));
    const r2 = await db.inbox.next();
    expect(r2.version_info).not.toBe(r1.version_info);
    expect(sotwConfigs(r2)[0]!.configuration).toContain("port 6543 6543");
    expect(await api.inbox.nothingWithin(400)).toBe(true);
  });

  it("keeps a NACKed version out of the stream until the content changes, with the detail in status", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const good = await e.inbox.next();
    e.ack(good, ["picoseg"]);
    await eventually(() => fx!.server.status().proxies[0]?.resources[0]?.acked !== undefined, 5000, "ACK");
    const goodVersion = fx.server.status().proxies[0]!.resources[0]!.acked!;
    await fx.write("db.yaml", segment("db", "db", 6000));
    const bad = await e.inbox.next();
    e.nack(bad, ["picoseg"], good.version_info, "wasm: failed to load module");
    expect(await e.inbox.nothingWithin(400)).toBe(true);
    const res = fx.server.status().proxies[0]!.resources[0]!;
    expect(res.acked).toBe(goodVersion);
    expect(res.sent).toBe(res.current);
    expect(res.sent).not.toBe(goodVersion);
    expect(res.nack).toMatchObject({ version: res.sent, detail: "wasm: failed to load module" });
    const stream = fx.server.status().proxies[0]!.streams[0]!;
    expect(stream.versionSent).toBe(bad.version_info); // sotw version_info, as Envoy's config_dump shows it
    expect(stream.versionAcked).toBe(good.version_info);
    expect(await (await fetch(`${fx.server.httpUrl}/metrics`)).text()).toMatch(/picoseg_xds_nacks_total\{protocol="sotw"\} 1/);

    await fx.write("db.yaml", segment("db", "db", 7000));
    const next = await e.inbox.next();
    expect(sotwConfigs(next)[0]!.configuration).toContain("port 7000 7000");
  });

  it("refuses an invalid edit and keeps serving the previous segment", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["picoseg"]);
    const r = await e.inbox.next();
    e.ack(r, ["picoseg"]);
    await fx.write("db.yaml", segment("db", "db", 5432).replace("ports: [5432]", "ports: [99999]"));
    await eventually(() => fx!.server.status().refusals.length > 0, 5000, "refusal");
    const refusal = fx.server.status().refusals[0]!;
    expect(fx.server.status().recentRefusals).toEqual([refusal]);
    expect(refusal.text).toMatch(/db\.yaml:\d+: spec\.rules\[0\]\.ports\[0\]: /);
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    expect(fx.server.status().segments).toEqual(["shop/db"]);
    expect(await (await fetch(`${fx.server.httpUrl}/metrics`)).text()).toMatch(/picoseg_policy_refused_documents_total 1/);
    // A new proxy still gets the last good config.
    const late = envoy(service, "db-2", { app: "db" });
    late.subscribe(["picoseg"]);
    expect(sotwConfigs(await late.inbox.next())[0]!.configuration).toContain("port 5432 5432");
  });

  it("answers a wildcard subscription with the default resource", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe([]);
    const names = sotwConfigs(await e.inbox.next()).map((c) => c.name);
    expect(names).toEqual(["picoseg"]);
  });

  it("serves any name a proxy asks for, and answers when the subscription grows", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy(service, "db-1", { app: "db" });
    e.subscribe(["inbound-5432"]);
    const r1 = await e.inbox.next();
    expect(sotwConfigs(r1).map((c) => c.name)).toEqual(["inbound-5432"]);
    e.ack(r1, ["inbound-5432"]);
    e.send({ resource_names: ["inbound-5432", "inbound-6000"], version_info: r1.version_info, response_nonce: r1.nonce });
    const r2 = await e.inbox.next();
    expect(sotwConfigs(r2).map((c) => c.name)).toEqual(["inbound-5432", "inbound-6000"]);
  });

  it("sends nothing to a reconnecting proxy that already holds the current version, and the update when it does not", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const first = envoy(service, "db-1", { app: "db" });
    first.subscribe(["picoseg"]);
    const r = await first.inbox.next();
    first.ack(r, ["picoseg"]);
    first.close();
    await eventually(() => fx!.server.status().proxies.length === 0, 5000, "proxy gone");

    const again = envoy(service, "db-1", { app: "db" });
    again.subscribe(["picoseg"], r.version_info);
    expect(await again.inbox.nothingWithin(400)).toBe(true);
    again.close();

    const revision = fx.server.source.current()!.revision;
    await fx.write("db.yaml", segment("db", "db", 6000));
    await eventually(() => fx!.server.source.current()!.revision > revision, 5000, "the reload");
    const third = envoy(service, "db-1", { app: "db" });
    third.subscribe(["picoseg"], r.version_info);
    expect(sotwConfigs(await third.inbox.next())[0]!.configuration).toContain("port 6000 6000");
  });
});

describe("malformed streams", () => {
  it("a first request without a node is refused with INVALID_ARGUMENT", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("ads", "", { app: "db" }); // an empty id: no usable node
    e.subscribe(["picoseg"]);
    const err = await e.inbox.next().then(
      () => undefined,
      (x: unknown) => x as { code?: number; details?: string },
    );
    expect(err?.code).toBe(3); // INVALID_ARGUMENT
    expect(err?.details).toMatch(/node/);
  });

  it("an ADS request without type_url is refused; the standalone ECDS service assumes its one type", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const ads = envoy("ads", "db-1", { app: "db" });
    ads.send({ resource_names: ["picoseg"], type_url: "" });
    const err = await ads.inbox.next().then(
      () => undefined,
      (x: unknown) => x as { code?: number; details?: string },
    );
    expect(err?.code).toBe(3);
    const ecds = envoy("ecds", "db-2", { app: "db" });
    ecds.send({ resource_names: ["picoseg"], type_url: "" });
    expect(sotwConfigs(await ecds.inbox.next())[0]!.name).toBe("picoseg");
  });
});

describe("ADS streams carrying other types", () => {
  it("leave types picoseg does not serve unanswered (an empty LDS answer would drop listeners) and still serve ECDS", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("ads", "db-1", { app: "db" });
    e.send({ type_url: "type.googleapis.com/envoy.config.listener.v3.Listener", resource_names: [] });
    e.send({ resource_names: ["picoseg"] });
    const r = await e.inbox.next();
    expect(r.type_url).toBe("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig");
    expect(await e.inbox.nothingWithin(300)).toBe(true);
  });

  it("ignore a request answering an older nonce (the client has not seen the latest response yet)", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    const e = envoy("ads", "db-1", { app: "db" });
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
