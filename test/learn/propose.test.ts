import { describe, expect, it } from "vitest";
import { proposeSegment, quantity } from "../../xds-server/src/learn/propose.js";
import { trafficOf } from "../../xds-server/src/learn/traffic.js";
import { validatePolicyText } from "../../xds-server/src/policy/load.js";
import type { StoredReport } from "../../xds-server/src/telemetry/store.js";
import { conn, report } from "../telemetry/fixtures.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";

function stored(r = report()): StoredReport {
  return { at: r.to, node: r.node, workload: "payments/db", labels: { app: "db", "pod-template-hash": "x" }, report: r };
}

describe("picoseg learn's proposal", () => {
  const traffic = trafficOf([
    stored(report({
      conns: [
        conn({ principal: API, ip: "10.1.0.7", n: 1204, in: [3_000_000, 10, 3_250_000], hour: 32 }), // Tue 08 UTC
        conn({ principal: API, ip: "10.1.0.8", n: 6, hour: 33 }),
        conn({ ip: "10.1.2.3", port: 8080, proto: "http1", n: 3, hour: 100 }), // Fri 04 UTC
      ],
    })),
  ]);

  it("passes picoseg validate", () => {
    const yaml = proposeSegment(traffic, { workload: "payments/db", margin: 1.5, timezone: "Europe/Berlin" });
    const { errors, segments } = validatePolicyText(yaml, "proposal.yaml");
    expect(errors).toEqual([]);
    expect(segments).toHaveLength(1);
    const spec = segments[0]!.segment.spec;
    expect(spec.mode).toBe("audit");
    expect(spec.selector).toEqual({ matchLabels: { app: "db" } });
    expect(spec.rules?.map((r) => r.name)).toEqual(["port-5432", "port-8080"]);
    expect(spec.rules?.[0]?.from).toEqual({ principals: [API] });
    expect(spec.rules?.[1]?.from).toEqual({ ipBlocks: ["10.1.2.3/32"] });
    expect(spec.rules?.[0]?.protocols).toEqual(["postgres"]);
  });

  it("says where each limit came from and rounds it up to a readable quantity", () => {
    const yaml = proposeSegment(traffic, { workload: "payments/db", margin: 1.5, timezone: "UTC" });
    // 3,250,000 × 1.5 = 4,875,000 bytes = 4.65 MiB → 5Mi
    expect(yaml).toMatch(/maxBytesIn: 5Mi\s+# max seen 3\.1 MiB over 1,210 connections/);
    expect(yaml).toMatch(/maxDurationSeconds: 4\s+# longest seen 2\.5 s/);
  });

  it("writes the schedule in the operator's zone, in whole hours", () => {
    // Tue 08:00 and 09:00 UTC are 09:00-11:00 in Berlin in January.
    const berlin = validatePolicyText(proposeSegment(traffic, { workload: "payments/db", margin: 1.5, timezone: "Europe/Berlin" }), "p.yaml");
    expect(berlin.segments[0]!.segment.spec.rules?.[0]?.schedule).toEqual({
      timezone: "Europe/Berlin",
      windows: [{ days: ["Tue"], start: "09:00", end: "11:00" }],
    });
  });

  it("gives a port reached with and without mTLS one rule for each", () => {
    const mixed = trafficOf([stored(report({ conns: [conn({ principal: API }), conn({ ip: "10.1.2.3" })] }))]);
    const { segments, errors } = validatePolicyText(proposeSegment(mixed, { workload: "payments/db", margin: 2, timezone: "UTC" }), "p.yaml");
    expect(errors).toEqual([]);
    expect(segments[0]!.segment.spec.rules?.map((r) => r.name)).toEqual(["port-5432", "port-5432-by-address"]);
  });

  it("proposes maxMessageBytes under the framing the filter measured messages under", () => {
    const framed = trafficOf([stored(report({
      conns: [
        conn({ n: 1200, msg: [100, 3174], framing: "lengthPrefixed 0 4 big 4", proto: "unknown" }),
        conn({ ip: "10.1.2.4", n: 4, msg: [50, 2000], framing: "lengthPrefixed 0 4 big 4", proto: "unknown" }),
      ],
    }))]);
    const yaml = proposeSegment(framed, { workload: "payments/db", margin: 2, timezone: "UTC" });
    // 3,174 × 2 = 6,348 bytes → 7Ki
    expect(yaml).toMatch(/maxMessageBytes: 7Ki\s+# largest lengthPrefixed message 3\.1 KiB over 1,204 connections/);
    const { errors, segments } = validatePolicyText(yaml, "p.yaml");
    expect(errors).toEqual([]);
    expect(segments[0]!.segment.spec.rules?.[0]?.limits).toMatchObject({
      maxMessageBytes: "7Ki",
      framing: { type: "lengthPrefixed", offset: 0, width: 4, endian: "big", adjustment: 4 },
    });
  });

  it("writes a delimited framing's delimiter back as the string it was", () => {
    const lines = trafficOf([stored(report({ conns: [conn({ msg: [10, 80], framing: "delimited 0d0a", proto: "unknown" })] }))]);
    const { errors, segments } = validatePolicyText(proposeSegment(lines, { workload: "payments/db", margin: 1, timezone: "UTC" }), "p.yaml");
    expect(errors).toEqual([]);
    expect(segments[0]!.segment.spec.rules?.[0]?.limits?.framing).toEqual({ type: "delimited", delimiter: "\r\n" });
  });

  it("keeps reads (chunk) as reads, and says which connections another framing's sizes leave out", () => {
    const mixed = trafficOf([stored(report({
      conns: [conn({ n: 10, msg: [10, 900] }), conn({ ip: "10.1.2.4", n: 3, msg: [10, 50_000], framing: "postgres" })],
    }))]);
    const yaml = proposeSegment(mixed, { workload: "payments/db", margin: 1, timezone: "UTC" });
    expect(yaml).toMatch(/maxMessageBytes: 1Ki\s+# largest read seen 900 B over 10 connections/);
    expect(yaml).toMatch(/framing: \{ type: chunk \}/);
    expect(yaml).toMatch(/# not counted in maxMessageBytes: connections measured under another framing \(3 under postgres\)/);
  });

  it("refuses to propose from nothing", () => {
    expect(() => proposeSegment(trafficOf([]), { workload: "payments/db", margin: 1.5, timezone: "UTC" })).toThrow(/no connections observed/);
  });

  it.each([
    [0, "1Ki"],
    [1000, "1Ki"],
    [1025, "2Ki"],
    [3.1 * 1024 * 1024, "4Mi"],
    [2 * 1024 ** 3 + 1, "3Gi"],
  ])("rounds %d bytes up to %s", (bytes, q) => {
    expect(quantity(bytes)).toBe(q);
  });
});
