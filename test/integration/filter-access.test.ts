// Connection-level factors through the real Envoy and the real filter: source CIDR, destination port,
// protocol (client-first and server-first), no rule, no/unparsable configuration, audit mode.
// For each: one connection allowed and one denied, checked at the client, the upstream and in Envoy.
// Configurations come from the project's compiler (harness/policy.ts), except the malformed ones.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, mysqlGreeting, segment, sleep, STAYS_OPEN_MS,
} from "../../testkit/envoy/harness.js";

const REDIS_PING = "*1\r\n$4\r\nPING\r\n";
const HTTP1_GET = "GET / HTTP/1.1\r\nHost: payments-db\r\n\r\n";

describe("picoseg filter in Envoy: who, where and what", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    env = await FilterEnv.start([
      { name: "src", config: () => compileSegments([segment("src", { rules: [{ name: "loopback-only", from: { ipBlocks: ["127.0.0.1/32"] } }] })]) },
      { name: "src10", config: () => compileSegments([segment("src10", { rules: [{ name: "tenant-net", from: { ipBlocks: ["10.0.0.0/8"] } }] })]) },
      // Two listeners, one configuration: the rule admits only portA's port.
      { name: "portA", vmId: "ports", config: (p) => compileSegments([segment("ports", { rules: [{ name: "db-port", ports: [p["portA"]!] }] })]) },
      { name: "portB", vmId: "ports", config: (p) => compileSegments([segment("ports", { rules: [{ name: "db-port", ports: [p["portA"]!] }] })]) },
      { name: "redis", config: () => compileSegments([segment("cache", { rules: [{ name: "redis-only", protocols: ["redis"] }] })]) },
      {
        name: "mysql",
        config: () => compileSegments([segment("mysql", { rules: [{ name: "mysql-only", protocols: ["mysql"] }] })]),
        upstream: { greeting: mysqlGreeting() },
      },
      {
        name: "mysqlAsPg",
        config: () => compileSegments([segment("pg", { rules: [{ name: "postgres-only", protocols: ["postgres"] }] })]),
        upstream: { greeting: mysqlGreeting() },
      },
      // No segment selects this workload: the compiler emits the empty policy.
      { name: "norule", config: () => compileSegments([segment("elsewhere", { rules: [{ name: "r" }] })], { labels: { app: "other" } }) },
      // What the compiler never emits, written by hand: unparsable, empty, truncated (no `end`).
      { name: "garbage", config: () => "this is not a picoseg configuration\n" },
      { name: "empty", config: () => "" },
      { name: "truncated", config: () => "picoseg 1\nsegment it/t enforce\nrule all\n" },
      { name: "audit", config: () => compileSegments([segment("audit", { mode: "audit", rules: [{ name: "tenant-net", from: { ipBlocks: ["10.0.0.0/8"] } }] })]) },
      // The same audit segment, on a workload whose app team asked for enforcement.
      {
        name: "auditEnforced",
        config: () => compileSegments([segment("audit", { mode: "audit", rules: [{ name: "tenant-net", from: { ipBlocks: ["10.0.0.0/8"] } }] })],
          { annotations: { "picoseg.io/mode": "enforce" } }),
      },
    ]);
    expect(env.configs["norule"]).toBe("picoseg 1\nend\n");
  });

  afterAll(async () => {
    await env?.stop();
  });

  describe("source CIDR", () => {
    it("allows 127.0.0.1 under a rule admitting 127.0.0.1/32", async () => {
      const before = await env.snapshot();
      const { client } = await expectAllowedEcho(env, "src", "hello from 127.0.0.1\n", before, { from: "127.0.0.1" });
      client.destroy();
    });

    it("denies 127.0.0.2 under the same rule with reason source; nothing reaches the upstream", async () => {
      const before = await env.snapshot();
      const sent = env.upstream("src").totalReceived();
      const c = await TcpClient.connect(env.port("src"), { from: "127.0.0.2" });
      await c.write("hello from 127.0.0.2\n");
      const d = await expectDenied(env, c, "source", before);
      expect(d.source ?? "").toMatch(/^127\.0\.0\.2(:\d+)?$/);
      expect(d.port).toBe(env.port("src"));
      expect(c.received().length).toBe(0);
      expect(env.upstream("src").totalReceived()).toBe(sent);
    });

    it("denies 127.0.0.1 when the only rule admits 10.0.0.0/8", async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port("src10"));
      await c.write("hello\n");
      await expectDenied(env, c, "source", before, (d) => d.port === env.port("src10"));
      expect(c.received().length).toBe(0);
      expect(env.upstream("src10").totalReceived()).toBe(0);
    });
  });

  describe("destination port", () => {
    it("allows the port the rule lists", async () => {
      const before = await env.snapshot();
      const { client } = await expectAllowedEcho(env, "portA", "to the listed port\n", before);
      client.destroy();
    });

    it("denies another port under the same configuration with reason port", async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port("portB"));
      await c.write("to another port\n");
      const d = await expectDenied(env, c, "port", before);
      expect(d.port).toBe(env.port("portB"));
      expect(c.received().length).toBe(0);
      expect(env.upstream("portB").totalReceived()).toBe(0);
    });
  });

  describe("protocol", () => {
    it("allows redis under a redis-only rule", async () => {
      const before = await env.snapshot();
      const { client } = await expectAllowedEcho(env, "redis", REDIS_PING, before);
      client.destroy();
    });

    it("denies http1 under the redis-only rule with reason protocol; not one byte is forwarded", async () => {
      const before = await env.snapshot();
      const sent = env.upstream("redis").totalReceived();
      const c = await TcpClient.connect(env.port("redis"));
      await c.write(HTTP1_GET);
      const d = await expectDenied(env, c, "protocol", before);
      expect(d.protocol).toBe("http1");
      expect(c.received().length).toBe(0);
      expect(env.upstream("redis").totalReceived()).toBe(sent);
    });

    it("allows a server-first mysql greeting under a mysql rule: the client receives it exactly", async () => {
      const before = await env.snapshot();
      const greeting = mysqlGreeting();
      const c = await TcpClient.connect(env.port("mysql"));
      expect((await c.waitForBytes(greeting.length, 3000)).equals(greeting)).toBe(true);
      await sleep(STAYS_OPEN_MS);
      expect(c.isOpen()).toBe(true);
      expect(c.received().equals(greeting)).toBe(true);
      expect(env.upstream("mysql").totalReceived()).toBe(0);
      await env.expectCounterDelta(before, "picoseg.allowed", 1);
      c.destroy();
    });

    it("denies the mysql greeting under a postgres-only rule: the client receives none of it", async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port("mysqlAsPg"));
      const d = await expectDenied(env, c, "protocol", before);
      expect(d.protocol).toBe("mysql");
      expect(c.received().length).toBe(0);
      const up = await env.upstream("mysqlAsPg").waitForConnection(1);
      await up.waitForClose(3000);
      expect(up.received().length).toBe(0);
    });
  });

  describe("no rule, no configuration", () => {
    it("denies every connection with no-rule when no segment selects the workload", async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port("norule"));
      await c.write("anyone?\n");
      await expectDenied(env, c, "no-rule", before);
      expect(c.received().length).toBe(0);
      expect(env.upstream("norule").totalReceived()).toBe(0);
    });

    for (const name of ["garbage", "empty", "truncated"]) {
      it(`denies every connection with no-config when the configuration is ${name}`, async () => {
        const before = await env.snapshot();
        const c = await TcpClient.connect(env.port(name));
        await c.write("*1\r\n$4\r\nPING\r\n");
        await expectDenied(env, c, "no-config", before);
        expect(c.received().length).toBe(0);
        expect(env.upstream(name).totalReceived()).toBe(0);
      });
    }

    it("logs the parse error of an unparsable configuration at error level", () => {
      expect(env.envoy.log()).toMatch(/\[error\]\[wasm\].*picoseg/);
    });
  });

  describe("audit mode", () => {
    it("logs and counts the would-deny (source) but keeps the connection open and forwarding", async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port("audit"));
      await c.write("audited\n");
      expect((await c.waitForBytes(8, 3000)).toString()).toBe("audited\n");
      const up = await env.upstream("audit").waitForConnection(1);
      expect(up.received().toString()).toBe("audited\n");
      await env.expectCounterDelta(before, "picoseg.audit.source", 1);
      const d = await env.envoy.waitForDecision((x) => x.picoseg === "audit" && x.reason === "source", 3000, before.decisions);
      expect(d.port).toBe(env.port("audit"));
      await sleep(STAYS_OPEN_MS);
      expect(c.isOpen()).toBe(true);
      expect(await env.envoy.counter("picoseg.denied.source")).toBe(before.counters.get("wasmcustom.picoseg.denied.source") ?? 0);
      await c.write("still here\n");
      expect((await c.waitForBytes(19, 3000)).toString()).toBe("audited\nstill here\n");
      c.destroy();
    });

    it("annotation picoseg.io/mode: enforce turns the audit segment into enforce: denied with source", async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port("auditEnforced"));
      await c.write("enforced\n");
      const d = await expectDenied(env, c, "source", before);
      expect(d.port).toBe(env.port("auditEnforced"));
      expect(c.received().length).toBe(0);
      expect(env.upstream("auditEnforced").totalReceived()).toBe(0);
      expect(await env.envoy.counter("picoseg.audit.source")).toBe(before.counters.get("wasmcustom.picoseg.audit.source") ?? 0);
    });
  });

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
