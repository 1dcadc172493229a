import { describe, expect, it } from "vitest";
import { buildReport } from "../../xds-server/src/compliance/report.js";
import { reportHtml, reportText } from "../../xds-server/src/compliance/render.js";
import { deniedAttempts } from "../../xds-server/src/telemetry/denials.js";
import type { StoredReport } from "../../xds-server/src/telemetry/store.js";
import { loadOne, segmentDoc } from "../policy/helpers.js";
import { report } from "./fixtures.js";

const API = "spiffe://cluster.local/ns/pay/sa/api";

function stored(node: string, from: number, denials: StoredReport["report"]["denials"]): StoredReport {
  return { at: from + 5000, node, workload: "pay/db", labels: { app: "db" }, report: report({ node, from, to: from + 5000, conns: [], denials }) };
}

describe("denied attempts by reason and source", () => {
  const reports = [
    stored("db-1", 1000, [
      { reason: "source", principal: "", ip: "10.9.9.9", port: 5432, mode: "enforce", n: 2 },
      { reason: "bytes-in", principal: API, ip: "10.1.0.7", port: 5432, mode: "enforce", n: 1 },
    ]),
    stored("db-2", 9000, [
      { reason: "source", principal: "", ip: "10.9.9.9", port: 6543, mode: "enforce", n: 3 },
      { reason: "source", principal: "", ip: "10.9.9.9", port: 5432, mode: "audit", n: 1 },
    ]),
  ];

  it("sums each (reason, identity, mode) over reports and ports, busiest first, with the period that carried them", () => {
    expect(deniedAttempts(reports)).toEqual([
      { reason: "source", source: "10.9.9.9", mode: "enforce", count: 5, from: 1000, to: 14000 },
      { reason: "bytes-in", source: API, mode: "enforce", count: 1, from: 1000, to: 6000 },
      { reason: "source", source: "10.9.9.9", mode: "audit", count: 1, from: 9000, to: 14000 },
    ]);
  });

  it("reach the compliance report of the workload whose proxies reported them, in text and HTML", () => {
    const db = loadOne(segmentDoc("selector: { matchLabels: { app: db } }\ncompliance: [pci-dss]\nrules:\n  - name: api\n    ports: [5432]\n", "db", "pay"));
    const proxy = {
      nodeId: "db-1",
      cluster: "c",
      workload: { namespace: "pay", labels: { app: "db" }, annotations: {}, name: "db" },
      segments: ["pay/db"],
      warnings: [],
      streams: [],
      resources: [{ name: "picoseg", current: "v1", sent: "v1", acked: "v1", ackedAt: 1 }],
    };
    const r = buildReport({
      controlPlane: "cp",
      policyRevision: 1,
      segments: [db],
      proxies: [proxy],
      decisions: [],
      deniedAttempts: (nodes) => deniedAttempts(reports.filter((x) => nodes.includes(x.node))),
      now: 0,
    });
    expect(r.workloads[0]!.decisions.sources).toEqual([
      { reason: "source", source: "10.9.9.9", mode: "enforce", count: 2, from: 1000, to: 6000 },
      { reason: "bytes-in", source: API, mode: "enforce", count: 1, from: 1000, to: 6000 },
    ]);
    expect(reportText(r)).toMatch(/denied attempts by source \(reported by the filters\):\n +source +10\.9\.9\.9 ×2, /);
    expect(reportHtml(r)).toContain("<td>source</td><td>10.9.9.9</td><td>enforce</td><td>2</td>");
  });
});
