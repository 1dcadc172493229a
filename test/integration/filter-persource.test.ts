// Per-source limits and quarantine through the real Envoy (two worker threads, so the counts must be
// shared across workers). Each test plays its own source address from 127.0.0.0/8 and has its own VM,
// so the per-source state of one test cannot leak into another.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, segment, sleep, STAYS_OPEN_MS,
} from "../../testkit/envoy/harness.js";

describe("picoseg filter in Envoy: per-source limits and quarantine", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    const ports3 = () => compileSegments([segment("ports3", { rules: [{ name: "any-port", perSource: { window: "1m", maxDistinctPorts: 2 } }] })]);
    const quarantine = (p: Record<string, number>) => compileSegments([segment("quarantine", {
      quarantine: { strikes: 2, window: "1m", duration: "1m" },
      rules: [{ name: "db-port", ports: [p["qa"]!] }],
    })]);
    env = await FilterEnv.start([
      {
        name: "conns",
        exactBalance: true,
        config: () => compileSegments([segment("conns", { rules: [{ name: "two-per-minute", perSource: { window: "1m", maxConnections: 2 } }] })]),
      },
      {
        name: "bytes",
        exactBalance: true,
        upstream: { echo: false },
        config: () => compileSegments([segment("bytes", { rules: [{ name: "hundred-per-minute", perSource: { window: "1m", maxBytes: 100 } }] })]),
      },
      { name: "p1", vmId: "ports3", config: ports3 },
      { name: "p2", vmId: "ports3", config: ports3 },
      { name: "p3", vmId: "ports3", config: ports3 },
      { name: "qa", vmId: "quarantine", config: quarantine },
      { name: "qb", vmId: "quarantine", config: quarantine },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("perSource maxConnections 2: two connections from one source are allowed, the third is source-connections", async () => {
    const from = "127.0.0.11";
    let before = await env.snapshot();
    const a = await expectAllowedEcho(env, "conns", "one\n", before, { from });
    before = await env.snapshot();
    const b = await expectAllowedEcho(env, "conns", "two\n", before, { from });
    // The two live connections are held by different workers (exact balance): the third one's verdict
    // needs a count shared across worker threads.
    expect(await env.perWorkerConnections("conns")).toEqual([1, 1]);
    before = await env.snapshot();
    const sent = env.upstream("conns").totalReceived();
    const c = await TcpClient.connect(env.port("conns"), { from });
    await c.write("three\n");
    const d = await expectDenied(env, c, "source-connections", before);

    expect(d.source ?? "").toContain(from);
    expect(c.received().length).toBe(0);
    expect(env.upstream("conns").totalReceived()).toBe(sent);
    // Another source is not affected.
    before = await env.snapshot();
    const other = await expectAllowedEcho(env, "conns", "elsewhere\n", before, { from: "127.0.0.21" });
    for (const x of [a, b, other]) x.client.destroy();
  });

  it("perSource maxBytes 100: exactly 100 bytes over two connections pass, byte 101 is source-bytes", async () => {
    const from = "127.0.0.12";
    const up = env.upstream("bytes");
    const before = await env.snapshot();
    const c1 = await TcpClient.connect(env.port("bytes"), { from });
    await c1.write(Buffer.alloc(60, 0x31));
    const u1 = await up.waitForConnection(1);
    await u1.waitForBytes(60, 3000);
    const c2 = await TcpClient.connect(env.port("bytes"), { from });
    await c2.write(Buffer.alloc(40, 0x32));
    const u2 = await up.waitForConnection(2);
    await u2.waitForBytes(40, 3000);
    expect(await env.perWorkerConnections("bytes")).toEqual([1, 1]); // one connection per worker
    await sleep(STAYS_OPEN_MS);
    expect(c1.isOpen() && c2.isOpen()).toBe(true);
    await env.expectCounterDelta(before, "picoseg.allowed", 2);
    const beforeDeny = await env.snapshot();
    await c2.write(Buffer.alloc(1, 0x33));
    await expectDenied(env, c2, "source-bytes", beforeDeny);
    await u2.waitForClose(3000);
    expect(u1.received().equals(Buffer.alloc(60, 0x31))).toBe(true);
    expect(u2.received().equals(Buffer.alloc(40, 0x32))).toBe(true);
    expect(up.totalReceived()).toBe(100);
    c1.destroy();
  });

  it("perSource maxDistinctPorts 2: two ports are allowed (and reused), a third is source-ports", async () => {
    const from = "127.0.0.13";
    const open: TcpClient[] = [];
    for (const l of ["p1", "p2", "p1"]) {
      const before = await env.snapshot();
      open.push((await expectAllowedEcho(env, l, `to ${l}\n`, before, { from })).client);
    }
    const before = await env.snapshot();
    const c = await TcpClient.connect(env.port("p3"), { from });
    await c.write("to p3\n");
    const d = await expectDenied(env, c, "source-ports", before);
    expect(d.port).toBe(env.port("p3"));
    expect(c.received().length).toBe(0);
    expect(env.upstream("p3").totalReceived()).toBe(0);
    for (const x of open) x.destroy();
  });

  it("quarantine 2 strikes: after two port violations the source is quarantined on the allowed port too", async () => {
    const from = "127.0.0.14";
    let before = await env.snapshot();
    (await expectAllowedEcho(env, "qa", "before strikes\n", before, { from })).client.destroy();
    for (let strike = 1; strike <= 2; strike++) {
      before = await env.snapshot();
      const bad = await TcpClient.connect(env.port("qb"), { from });
      await bad.write("wrong port\n");
      await expectDenied(env, bad, "port", before);
    }
    before = await env.snapshot();
    const sent = env.upstream("qa").totalReceived();
    const q = await TcpClient.connect(env.port("qa"), { from });
    await q.write("after strikes\n");
    const d = await expectDenied(env, q, "quarantined", before);
    expect(d.source ?? "").toContain(from);
    expect(q.received().length).toBe(0);
    expect(env.upstream("qa").totalReceived()).toBe(sent);
    // The quarantine is the source's alone.
    before = await env.snapshot();
    (await expectAllowedEcho(env, "qa", "another source\n", before, { from: "127.0.0.15" })).client.destroy();
  });

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
