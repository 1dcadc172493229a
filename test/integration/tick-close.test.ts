// The claim the picoseg filter's live enforcement (schedule end, maxDurationSeconds, revocation)
// rests on, checked in the real Envoy with a minimal fact filter (testkit/envoy/fact-filters/
// tick-close.as) rather than the filter itself, so it holds independently of the filter's state:
// a root context's tick closes a
// live connection by proxy_set_effective_context(connection) + proxy_close_stream(downstream), on
// every worker thread. It also pins down how Envoy names Wasm-defined counters.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Envoy, TcpClient, Upstream, freePorts, startFactFilterEnvoy, stopAllEnvoys, type FactFilterEnvoy } from "../../testkit/envoy/harness.js";
const CONNECTIONS = 4; // over 2 workers

describe("closing a live connection from the root context's tick (real Envoy, --concurrency 2)", () => {
  let envoy: Envoy;
  let echo: Upstream;
  let port: number;
  let probe: FactFilterEnvoy;

  beforeAll(async () => {
    echo = await Upstream.start();
    [port] = (await freePorts(1)) as [number];
    probe = await startFactFilterEnvoy(
      "tick-close",
      // exact_balance: the live connections are spread over both workers, so both workers' ticks close.
      { listen: { host: "127.0.0.1", port }, upstream: { host: "127.0.0.1", port: echo.port }, exactBalance: true },
      { concurrency: 2 },
    );
    envoy = probe.envoy;
  });

  afterAll(async () => {
    await probe?.stop();
    await stopAllEnvoys();
    await echo?.stop();
  });

  it("a connection carrying traffic is closed by the tick after 10 ticks of 100 ms, both ways", async () => {
    const t0 = Date.now();
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => TcpClient.connect(port)));
    for (const c of clients) await c.write("ping\n");
    for (const c of clients) expect((await c.waitForBytes(5, 2000)).toString()).toBe("ping\n");
    // Counted only once every echo is back: a client's connect resolves when the kernel has the
    // connection, before Envoy's worker accepts it, so an earlier read could see [1, 0].
    const perWorker = await envoy.stats(`^listener\\.127\\.0\\.0\\.1_${port}\\.worker_\\d+\\.downstream_cx_total$`);
    expect([...perWorker.values()]).toEqual([CONNECTIONS / 2, CONNECTIONS / 2]);
    // Still open well before the deadline: the tick, not something else, closes them.
    expect(clients.every((c) => c.isOpen())).toBe(true);
    const closedAt: number[] = [];
    for (const c of clients) {
      await c.waitForClose(3000);
      closedAt.push(Date.now() - t0);
    }
    for (const ms of closedAt) {
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(2000);
    }
    // The upstream side was closed too, and saw exactly what the client sent.
    await Promise.all(echo.connections.map((u) => u.waitForClose(2000)));
    expect(echo.connections.map((u) => u.received().toString())).toEqual(Array(CONNECTIONS).fill("ping\n"));
    expect(await envoy.counter("picoseg.probe.tick_closed")).toBe(CONNECTIONS);
    expect(await envoy.counter("picoseg.probe.downstream_close")).toBe(CONNECTIONS);
  });

  it("names Wasm counters wasmcustom.<name> in /stats and <name with _> in /stats/prometheus", async () => {
    const text = await envoy.adminText("/stats?filter=probe");
    expect(text).toContain(`wasmcustom.picoseg.probe.connections: ${CONNECTIONS}`);
    const prom = await envoy.adminText("/stats/prometheus?filter=probe");
    expect(prom).toContain(`picoseg_probe_connections{} ${CONNECTIONS}`);
    expect(prom).not.toContain("wasmcustom");
  });
});
