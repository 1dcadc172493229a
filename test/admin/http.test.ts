// The server's HTTP side, and the module served remotely with its sha256.
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DeltaEnvoy, deltaConfigs, eventually } from "../../testkit/xds/fake-envoy.js";
import { perTestServer, segment } from "../../testkit/xds/server-fixture.js";

const srv = perTestServer();

const get = async (p: string): Promise<{ status: number; text: string }> => {
  const r = await fetch(`${srv.fx.server.httpUrl}${p}`);
  return { status: r.status, text: await r.text() };
};

describe("HTTP side", () => {
  it("/readyz says the policy source is stale while the watched directory is gone, with a metric; ready again once it is back", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    const { rename, mkdir, writeFile: write } = await import("node:fs/promises");
    await rename(fx.dir, `${fx.dir}.moved`);
    await eventually(async () => (await get("/readyz")).status === 503, 5000, "readyz to fail");
    expect((await get("/readyz")).text).toMatch(/policy source stale: .*not readable/);
    expect((await get("/metrics")).text).toMatch(/picoseg_policy_source_stale 1/);
    expect(fx.server.status().policySourceStale).toMatch(/not readable/);
    await mkdir(fx.dir);
    await write(path.join(fx.dir, "db.yaml"), segment("db", "db", 5432));
    await eventually(async () => (await get("/readyz")).status === 200, 5000, "readyz to recover");
    expect((await get("/metrics")).text).toMatch(/picoseg_policy_source_stale 0/);
    const { rm } = await import("node:fs/promises");
    await rm(`${fx.dir}.moved`, { recursive: true, force: true });
  });

  it("reports health, readiness after the first load, status and metrics", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    expect(await get("/healthz")).toEqual({ status: 200, text: "ok\n" });
    expect((await get("/readyz")).status).toBe(200);
    const e = new DeltaEnvoy(fx.server.xdsAddress, "ecds", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    srv.track(e);
    e.subscribe(["picoseg"]);
    e.ack(await e.inbox.next());
    await eventually(async () => (await get("/metrics")).text.includes('picoseg_xds_acks_total{protocol="delta"} 1'), 5000, "ack metric");
    const metrics = (await get("/metrics")).text;
    expect(metrics).toMatch(/picoseg_xds_connected_proxies 1/);
    expect(metrics).toMatch(/picoseg_xds_pushes_total\{protocol="delta"\} 1/);
    expect(metrics).toMatch(/picoseg_xds_push_latency_seconds_count\{protocol="delta"\} 1/);
    expect(metrics).toMatch(/picoseg_policy_segments 1/);

    const status = JSON.parse((await get("/status")).text) as {
      ready: boolean;
      segments: string[];
      proxies: Array<{ nodeId: string; workload: { namespace: string; labels: Record<string, string> }; segments: string[]; streams: Array<{ service: string; protocol: string }> }>;
    };
    expect(status.ready).toBe(true);
    expect(status.segments).toEqual(["shop/db"]);
    expect(status.proxies).toHaveLength(1);
    expect(status.proxies[0]).toMatchObject({
      nodeId: "db-1",
      workload: { namespace: "shop", labels: { app: "db" } },
      segments: ["shop/db"],
      streams: [{ service: "ecds", protocol: "delta" }],
    });
    expect((status.proxies[0] as { generation?: number }).generation).toBeGreaterThan(1_700_000_000_000); // a change time in ms
    expect((await get("/nope")).status).toBe(404);
  });

  it("serves the module and its sha256, and points proxies at it when the module is remote", async () => {
    const bytes = Buffer.from("\0asm\x01\0\0\0picoseg-test-module");
    const sha = createHash("sha256").update(bytes).digest("hex");
    const tmp = await import("node:os").then((os) => os.tmpdir());
    const wasm = path.join(tmp, `picoseg-http-test-${process.pid}.wasm`);
    await writeFile(wasm, bytes);
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) }, { wasmPath: wasm, remoteWasm: { cluster: "picoseg_http" } });
    const r = await fetch(`${fx.server.httpUrl}/filter/picoseg.wasm`);
    expect(Buffer.from(await r.arrayBuffer()).equals(bytes)).toBe(true);
    expect(await get("/filter/picoseg.wasm.sha256")).toEqual({ status: 200, text: `${sha}\n` });

    const e = new DeltaEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    srv.track(e);
    e.subscribe(["picoseg"]);
    const [cfg] = deltaConfigs(await e.inbox.next());
    expect(cfg!.module).toEqual({ remote: { uri: `${fx.server.httpUrl}/filter/picoseg.wasm`, cluster: "picoseg_http", sha256: sha } });
  });

  it("--inline-wasm: the filter config carries the module's bytes themselves, no path and no URL", async () => {
    const bytes = Buffer.from("\0asm\x01\0\0\0 inline module");
    const sha = createHash("sha256").update(bytes).digest("hex");
    const wasm = path.join(await import("node:os").then((os) => os.tmpdir()), `picoseg-inline-test-${process.pid}.wasm`);
    await writeFile(wasm, bytes);
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) }, { wasmPath: wasm, inlineWasm: true });
    const e = new DeltaEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    srv.track(e);
    e.subscribe(["picoseg"]);
    const [cfg] = deltaConfigs(await e.inbox.next());
    expect(cfg!.module).toEqual({ inline: { sha256: sha, size: bytes.length } });
  });
});
