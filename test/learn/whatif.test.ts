import { describe, expect, it } from "vitest";
import { trafficOf } from "../../xds-server/src/learn/traffic.js";
import { whatIf } from "../../xds-server/src/learn/whatif.js";
import { validatePolicyText } from "../../xds-server/src/policy/load.js";
import type { StoredReport } from "../../xds-server/src/telemetry/store.js";
import { conn, report } from "../telemetry/fixtures.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";

function segments(rules: string, mode = "audit") {
  const { segments, errors } = validatePolicyText(
    `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: db, namespace: payments }
spec:
  selector: { matchLabels: { app: db } }
  mode: ${mode}
  rules:
${rules}`,
    "s.yaml",
  );
  expect(errors).toEqual([]);
  return segments;
}

const traffic = (...conns: ReturnType<typeof conn>[]) =>
  trafficOf([{ at: 0, node: "db-1", workload: "payments/db", labels: { app: "db" }, report: report({ conns }) } satisfies StoredReport]);

describe("picoseg what-if", () => {
  it("denies by source and port as the filter selects rules", () => {
    const t = traffic(conn({ principal: API, n: 5 }), conn({ ip: "10.9.9.9", n: 2 }), conn({ principal: API, port: 22, n: 1 }));
    const r = whatIf(t, segments(`    - name: api
      from: { principals: ["${API}"] }
      ports: [5432]`), "payments/db");
    expect(r.connections).toBe(8);
    expect(r.byReason).toEqual({ source: { lo: 2, hi: 2 }, port: { lo: 1, hi: 1 } });
    expect(r.bySource["10.9.9.9"]).toEqual({ source: { lo: 2, hi: 2 } });
    expect(r.clean).toEqual({ lo: 5, hi: 5 });
  });

  it("counts a limit exactly when a group is all over or all under it, as a range when it straddles it", () => {
    const t = traffic(conn({ n: 3, in: [30_000, 10_000, 10_000] }), conn({ ip: "10.1.2.4", n: 4, in: [400, 100, 100] }), conn({ ip: "10.1.2.5", n: 5, in: [5000, 10, 4000] }));
    const r = whatIf(t, segments(`    - name: all
      limits: { maxBytesIn: 1000 }`), "payments/db");
    expect(r.byReason["bytes-in"]).toEqual({ lo: 3 + 1, hi: 3 + 4 });
  });

  it("judges the schedule at the hour the connections started, in the rule's zone", () => {
    // hour 32: Tuesday 08:00 UTC = 09:00 in Berlin (January)
    const t = traffic(conn({ n: 2, hour: 32 }));
    const open = whatIf(t, segments(`    - name: office
      schedule: { timezone: Europe/Berlin, windows: [{ days: [Tue], start: "09:00", end: "17:00" }] }`), "payments/db");
    expect(open.byReason).toEqual({});
    const closed = whatIf(t, segments(`    - name: office
      schedule: { timezone: UTC, windows: [{ days: [Tue], start: "09:00", end: "17:00" }] }`), "payments/db");
    expect(closed.byReason).toEqual({ schedule: { lo: 2, hi: 2 } });
  });

  it("says so when a rule lists protocols that were never sniffed", () => {
    const r = whatIf(traffic(conn({ proto: null })), segments(`    - name: pg
      protocols: [postgres]`), "payments/db");
    expect(r.byReason).toEqual({});
    expect(r.notes.join("\n")).toMatch(/sniffed none: not judged/);
  });

  it("judges message-size when the filter measured messages under the rule's own framing", () => {
    const lp = "{ type: lengthPrefixed, offset: 1, width: 4, adjustment: -4 }";
    const t = traffic(conn({ n: 3, msg: [200, 5000], framing: "lengthPrefixed 1 4 big -4", proto: "unknown" }), conn({ ip: "10.1.2.4", n: 2, msg: [10, 90], framing: "lengthPrefixed 1 4 big -4", proto: "unknown" }));
    const r = whatIf(t, segments(`    - name: all
      limits: { maxMessageBytes: 100, framing: ${lp} }`), "payments/db");
    expect(r.byReason).toEqual({ "message-size": { lo: 3, hi: 3 } });
    expect(r.notes).toEqual([]);
  });

  it("does not judge message sizes measured under another framing, and says so", () => {
    const reads = whatIf(traffic(conn({ msg: [10, 5000] })), segments(`    - name: all
      limits: { maxMessageBytes: 100, framing: { type: kafka } }`), "payments/db");
    expect(reads.byReason).toEqual({});
    expect(reads.notes).toEqual(["message-size: rule payments/db/all frames messages as kafka; the filter measured reads only (chunk): not judged"]);
    const framed = whatIf(traffic(conn({ msg: [10, 5000], framing: "lengthPrefixed 1 4 big -4" })), segments(`    - name: all
      limits: { maxMessageBytes: 100, framing: { type: lengthPrefixed, offset: 1, width: 4 } }`), "payments/db");
    expect(framed.byReason).toEqual({});
    expect(framed.notes.join("\n")).toMatch(/frames messages as lengthPrefixed 1 4 big 0; the filter measured messages under lengthPrefixed 1 4 big -4: not judged/);
  });

  it("judges a chunk rule on reads, as before", () => {
    const r = whatIf(traffic(conn({ n: 4, msg: [500, 900] })), segments(`    - name: all
      limits: { maxMessageBytes: 400 }`), "payments/db");
    expect(r.byReason).toEqual({ "message-size": { lo: 4, hi: 4 } });
  });

  it("denies everything with no-rule when no segment selects the workload", () => {
    const r = whatIf(traffic(conn({ n: 3 })), [], "payments/db");
    expect(r.byReason).toEqual({ "no-rule": { lo: 3, hi: 3 } });
  });
});
