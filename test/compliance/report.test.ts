// The compliance report's checks, each on the smallest mesh that shows it.
import { describe, expect, it } from "vitest";
import { buildReport, describeWorkloads, ruleInWords } from "../../xds-server/src/compliance/report.js";
import { reportHtml, reportText } from "../../xds-server/src/compliance/render.js";
import type { ProxyStatus } from "../../api/status.js";
import { loadOne, segmentDoc } from "../policy/helpers.js";

const seg = (name: string, ns: string, spec: string) => loadOne(segmentDoc(spec, name, ns));

function proxy(nodeId: string, ns: string, labels: Record<string, string>, segments: string[], res: Partial<ProxyStatus["resources"][number]> = {}): ProxyStatus {
  return {
    nodeId,
    cluster: "c",
    workload: { namespace: ns, labels, annotations: {}, name: labels["app"] },
    segments,
    warnings: [],
    streams: [],
    resources: [{ name: "picoseg", current: "v1", sent: "v1", acked: "v1", ackedAt: 1_700_000_000_000, ...res }],
  };
}

const db = seg("db", "pay", `
selector: { matchLabels: { app: db } }
compliance: [pci-dss]
rules:
  - name: api
    from: { principals: ["spiffe://cluster.local/ns/pay/sa/api"] }
    ports: [5432]
    protocols: [postgres]
`);
const records = seg("records", "health", `
selector: { matchLabels: { app: records } }
mode: audit
rules:
  - name: anyone
    from: { ipBlocks: ["0.0.0.0/0"] }
`);

describe("compliance report", () => {
  const input = {
    controlPlane: "cp",
    policyRevision: 3,
    segments: [db, records],
    proxies: [
      proxy("db-1", "pay", { app: "db" }, ["pay/db"]),
      proxy("rec-1", "health", { app: "records", "picoseg.io/data-class": "phi" }, ["health/records"], { acked: "v0", nack: { version: "v1", detail: "bad", at: 5 } }),
      proxy("web-1", "pay", { app: "web" }, []),
      proxy("crm-1", "crm", { app: "crm", "picoseg.io/data-class": "pii" }, []),
    ],
    decisions: [{ nodeId: "db-1", workload: "pay/db", counts: { "deny:source": 2, allow: 5 }, since: 1000, lastReadAt: 2000 }],
    now: 0,
  };

  it("lists only regulated workloads: a data-class label or a selecting segment with compliance", () => {
    const r = buildReport(input);
    expect(r.workloads.map((w) => w.workload)).toEqual(["crm/crm", "health/records", "pay/db"]);
    expect(r.workloads.map((w) => w.regimes)).toEqual([[], ["hipaa"], ["pci-dss"]]);
  });

  it("an enforcing segment with identities, ports and protocols raises no finding; its decisions are summed", () => {
    const w = buildReport(input).workloads.find((x) => x.workload === "pay/db")!;
    expect(w.coverage).toBe("enforce");
    expect(w.findings).toEqual([]);
    expect(w.rules[0]!.text).toBe("from identities spiffe://cluster.local/ns/pay/sa/api; to port 5432; speaking postgres; at any time");
    expect(w.decisions).toMatchObject({ since: 1000, counts: { "deny:source": 2, allow: 5 }, sources: "not reported", unreadable: [] });
    expect(w.proxies[0]).toMatchObject({ nodeId: "db-1", acked: "v1", ackedAt: 1_700_000_000_000, inSync: true });
  });

  it("audit-only coverage, a rule admitting any source or port, and a NACK are findings with HIPAA requirements", () => {
    const w = buildReport(input).workloads.find((x) => x.workload === "health/records")!;
    expect(w.coverage).toBe("audit-only");
    expect(w.findings.map((f) => [f.severity, f.check, f.requirements.map((q) => q.id).join()])).toEqual([
      ["high", "audit-only", "164.312(a)(1)"],
      ["high", "any-source", "164.312(a)(1)"],
      ["high", "nack", "164.312(a)(1)"],
      ["medium", "any-port", "164.312(a)(1)"],
      ["low", "any-protocol", "164.312(a)(1)"],
      ["low", "decisions-unreadable", "164.312(b)"],
    ]);
  });

  it("a regulated workload no segment selects is critical; a pii one names no requirement", () => {
    const w = buildReport(input).workloads.find((x) => x.workload === "crm/crm")!;
    expect(w.coverage).toBe("none");
    expect(w.findings[0]).toMatchObject({ severity: "critical", check: "no-segment", requirements: [] });
  });

  it("picoseg.io/mode: enforce on the workload turns its audit coverage into enforce", () => {
    const p = proxy("rec-2", "health", { app: "records", "picoseg.io/data-class": "phi" }, ["health/records"]);
    p.workload.annotations["picoseg.io/mode"] = "enforce";
    const w = buildReport({ ...input, proxies: [p] }).workloads[0]!;
    expect(w.coverage).toBe("enforce");
    expect(w.findings.map((f) => f.check)).not.toContain("audit-only");
  });

  it("--compliance keeps one regime's workloads; counts per severity sum up", () => {
    const r = buildReport({ ...input, regime: "pci-dss" });
    expect(r.workloads.map((w) => w.workload)).toEqual(["pay/db"]);
    expect(buildReport(input).summary.findings).toEqual({ critical: 1, high: 3, medium: 1, low: 3 });
  });

  it("rules in words: sources with exceptions, schedules, budgets, per-source limits", () => {
    expect(ruleInWords({
      name: "r",
      from: { ipBlocks: ["10.0.0.0/8"], notIpBlocks: ["10.9.0.0/16"] },
      ports: [5432, "8000-8100"],
      schedule: { timezone: "Europe/Berlin", windows: [{ days: ["Mon", "Fri"], start: "08:00", end: "18:00" }] },
      limits: { maxBytesIn: "10Mi", maxMessageBytes: "64Ki", framing: { type: "chunk" } },
      perSource: { window: "1h", maxConnections: 600 },
    })).toBe("from addresses 10.0.0.0/8 except 10.9.0.0/16; to ports 5432, 8000-8100; any protocol; only Mon,Fri 08:00–18:00 (Europe/Berlin); at most 10Mi in, messages up to 64Ki (chunk) per connection; per source in 1h: at most 600 connections");
  });

  it("text and HTML name the disclaimer, findings and requirement; HTML escapes what it shows", () => {
    const r = buildReport(input);
    const text = reportText(r);
    expect(text).toContain("Evidence for an assessment, not a certification");
    expect(text).toMatch(/health\/records · data class phi · hipaa · coverage: AUDIT-ONLY/);
    expect(text).toMatch(/HIGH {5}only audit-mode segments select health\/records .* \[HIPAA 164\.312\(a\)\(1\)\]/);
    const evil = buildReport({ ...input, proxies: [proxy("<script>x</script>", "crm", { app: "crm", "picoseg.io/data-class": "pii" }, [])] });
    expect(reportHtml(evil)).not.toContain("<script>x");
    expect(reportHtml(evil)).toContain("&#60;script&#62;x");
  });
});

describe("describe: any workload, rules as its proxies enforce them", () => {
  const cache = seg("cache", "shop", `
selector: { matchLabels: { app: cache } }
rules:
  - name: cart
    ports: [6379]
    limits: { maxBytesIn: 10Mi, maxDurationSeconds: 60 }
`);
  const annotated: ProxyStatus = {
    ...proxy("sidecar~10.0.0.7~cache-7d9f.shop~shop.svc.cluster.local", "shop", { app: "cache" }, ["shop/cache"]),
    workload: { namespace: "shop", name: "cache", labels: { app: "cache" }, annotations: { "picoseg.io/max-bytes-in": "1M", "picoseg.io/max-duration-seconds": "600" } },
  };
  const input = { controlPlane: "cp", policyRevision: 1, segments: [cache], proxies: [annotated, proxy("web-1", "shop", { app: "web" }, [])], decisions: [] };

  it("a workload no regime covers is described too; a tighter annotation replaces the rule's limit, a looser one does not", () => {
    const [w] = describeWorkloads(input, (p) => p.nodeId.includes("~cache-7d9f.shop~"));
    expect(w).toMatchObject({ workload: "shop/cache", regimes: [], coverage: "enforce", segments: [{ name: "shop/cache", selects: { app: "cache" } }] });
    expect(w!.rules[0]!.text).toBe(
      "from any source; to port 6379; any protocol; at any time; at most 1000000 (annotation picoseg.io/max-bytes-in; the rule says 10Mi) in, 60 s long per connection",
    );
    expect(describeWorkloads(input, (p) => p.nodeId === "web-1")[0]).toMatchObject({ workload: "shop/web", coverage: "none", rules: [] });
    expect(describeWorkloads(input, () => false)).toEqual([]);
  });
});
