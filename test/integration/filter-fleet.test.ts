// Per-device quotas in a bounded table, through the real Envoy (two workers sharing the records):
// perSource.maxSources sizes each rule's table of per-source records in Envoy's shared data; a
// new source that finds its slots holding other live windows evicts the oldest, counted as
// picoseg.persource.evicted, and quotas hold for the sources that keep their slot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, segment } from "../../testkit/envoy/harness.js";

describe("picoseg filter in Envoy: per-device quotas in a bounded table", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    env = await FilterEnv.start([
      {
        name: "fleet",
        exactBalance: true,
        // maxSources 1: a table of four slots.
        config: () => compileSegments([segment("fleet", { rules: [{ name: "devices", perSource: { window: "1h", maxConnections: 2, maxSources: 1 } }] })]),
      },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("ten devices through a four-slot table: the evictions are counted, and the newest device keeps its quota", async () => {
    const devices = Array.from({ length: 10 }, (_, i) => `127.0.1.${i + 1}`);
    const evicted0 = await env.envoy.counter("picoseg.persource.evicted");
    for (const from of devices) {
      const before = await env.snapshot();
      const { client } = await expectAllowedEcho(env, "fleet", `hello from ${from}\n`, before, { from });
      client.destroy();
    }
    expect((await env.envoy.counter("picoseg.persource.evicted")) - evicted0).toBeGreaterThanOrEqual(6);

    // The last device's window is the newest: its second connection is allowed, its third is not.
    const last = devices.at(-1)!;
    let before = await env.snapshot();
    const second = await expectAllowedEcho(env, "fleet", "again\n", before, { from: last });
    second.client.destroy();
    before = await env.snapshot();
    const third = await TcpClient.connect(env.port("fleet"), { from: last });
    await third.write("once more\n");
    await expectDenied(env, third, "source-connections", before);
  });
});
