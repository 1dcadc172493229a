// Reading the filters' decision counters: which names count, and which proxies are never read.
// (Reading a real Envoy is in test/integration/compliance-report.test.ts.)
import { describe, expect, it } from "vitest";
import { DecisionCounters, parseCounterName } from "../../xds-server/src/telemetry/decision-counters.js";
import { freeLoopbackPort } from "../../xds-server/src/util/ports.js";

const workload = { namespace: "shop", labels: { app: "db" }, annotations: {} };

describe("decision counters", () => {
  it("knows the filter's counter names, with or without Envoy's wasmcustom prefix, and nothing else", () => {
    expect(parseCounterName("wasmcustom.picoseg.denied.source-ports")).toEqual({ verdict: "deny", reason: "source-ports" });
    expect(parseCounterName("picoseg.audit.bytes-in")).toEqual({ verdict: "audit", reason: "bytes-in" });
    expect(parseCounterName("wasmcustom.picoseg.allowed")).toEqual({ verdict: "allow", reason: "" });
    expect(parseCounterName("picoseg.allowed.port")).toBeUndefined();
    expect(parseCounterName("picoseg.denied")).toBeUndefined();
    expect(parseCounterName("cluster.picoseg.denied.port")).toBeUndefined();
  });

  it("reads only a loopback admin address a proxy announced, and says why not otherwise", async () => {
    const closed = await freeLoopbackPort();
    const c = new DecisionCounters({
      proxies: () => [
        { nodeId: "none", workload },
        { nodeId: "remote", workload, admin: "10.0.0.7:15000" },
        { nodeId: "metadata-server", workload, admin: "169.254.169.254:80" },
        { nodeId: "down", workload, admin: `127.0.0.1:${closed}` },
      ],
    });
    await c.readAll();
    const errors = Object.fromEntries(c.proxies().map((p) => [p.nodeId, p.error]));
    expect(errors).toEqual({
      none: "no admin address in node metadata (PICOSEG_ADMIN): decisions not readable",
      remote: 'admin address "10.0.0.7:15000" refused: only loopback addresses are read',
      "metadata-server": 'admin address "169.254.169.254:80" refused: only loopback addresses are read',
      down: expect.stringMatching(new RegExp(`^reading http://127\\.0\\.0\\.1:${closed}: `)),
    });
    expect(c.proxies().every((p) => p.lastReadAt === undefined && Object.keys(p.counts).length === 0)).toBe(true);
    expect(c.samples()).toHaveLength(1);
  });
});
