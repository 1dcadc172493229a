// Two listeners whose picoseg filters have different configurations but one VM (same vm_id, as when
// Envoy shares a VM between plugins): neither may disturb the other's live connections. Nothing
// changed in either policy, so no connection may be closed as `revoked`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, TcpClient, compileSegments, expectAllowedEcho, segment, sleep } from "../../testkit/envoy/harness.js";

const REDIS_PING = "*1\r\n$4\r\nPING\r\n";

describe("picoseg filters with different configurations in one VM", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    env = await FilterEnv.start([
      { name: "loopback", vmId: "shared", config: () => compileSegments([segment("loopback", { rules: [{ name: "loopback", from: { ipBlocks: ["127.0.0.1/32"] } }] })]) },
      { name: "cache", vmId: "shared", config: () => compileSegments([segment("cache", { rules: [{ name: "redis-only", protocols: ["redis"] }] })]) },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("the first allowed connection after start stays open for 2.5 s and is never revoked", async () => {
    const before = await env.snapshot();
    const { client, upstream } = await expectAllowedEcho(env, "loopback", "long-lived\n", before);
    const other = await TcpClient.connect(env.port("cache"));
    await other.write(REDIS_PING);
    await other.waitForBytes(REDIS_PING.length, 3000);
    await sleep(2500);
    expect(client.isOpen()).toBe(true);
    await client.write("still allowed\n");
    expect((await client.waitForBytes(25, 3000)).toString()).toBe("long-lived\nstill allowed\n");
    expect(upstream.received().toString()).toBe("long-lived\nstill allowed\n");
    expect(other.isOpen()).toBe(true);
    expect(await env.envoy.counter("picoseg.denied.revoked")).toBe(0);
    client.destroy();
    other.destroy();
  });

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
