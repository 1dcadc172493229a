// `picoseg report` end to end: a real server, a real Envoy sidecar of a PCI workload, a real
// connection denied by the filter; the report, the server's metrics and the audit trail all show
// what the proxy ACKed and the denial its Envoy counted.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { verifyTrail } from "../../xds-server/src/audit/chain.js";
import type { ComplianceReport } from "../../xds-server/src/compliance/report.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { roundTrip } from "../../testkit/envoy/round-trip.js";
import { startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";
import { XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { PICOSEG_CLI } from "../../testkit/cli/index.js";

const run = promisify(execFile);
const CONFIG_RELOAD = "extension_config_discovery.network_filter.picoseg.config_reload";
const cli = PICOSEG_CLI;

let fx: Fixture | undefined;
let sidecar: XdsSidecar | undefined;
let auditDir = "";
afterEach(async () => {
  await sidecar?.stop();
  await fx?.close();
  sidecar = fx = undefined;
  if (auditDir) await rm(auditDir, { recursive: true, force: true });
});
afterAll(stopAllEnvoys);

const CARD_DB = (port: number): string => `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: card-db, namespace: shop }
spec:
  selector: { matchLabels: { app: card-db } }
  compliance: [pci-dss]
  rules:
    - name: from-payments-subnet
      from: { ipBlocks: ["10.20.0.0/16"] }
      ports: [${port}]
`;

describe("picoseg report against a real server and sidecar", () => {
  it("shows coverage, rules, the ACKed version and the denial the sidecar counted; metrics and the audit trail agree", async () => {
    const [listenPort, adminPort] = (await freePorts(2)) as [number, number];
    auditDir = await mkdtemp(path.join(tmpdir(), "picoseg-report-audit-"));
    const audit = path.join(auditDir, "audit.jsonl");
    fx = await startFixture({ "card-db.yaml": CARD_DB(listenPort) }, {
      wasmPath: defaultWasmPath(),
      decisionIntervalMs: 200,
      audit: { file: audit, summaryIntervalMs: 500 },
      // The regulated workload's filter reports its denials (by source) every 500 ms.
      observations: { report: { intervalMs: 500 } },
    });
    sidecar = await XdsSidecar.start({
      xdsPort: fx.server.xdsPort,
      listenPort,
      adminPort,
      node: { id: "card-db-1", cluster: "card-db.shop", namespace: "shop", labels: { app: "card-db", "picoseg.io/data-class": "pci" }, workloadName: "card-db" },
    });

    // 127.0.0.1 is not in the payments subnet: denied for its source, by the filter in Envoy.
    await sidecar.envoy.waitForCounter(CONFIG_RELOAD, 1);
    expect(await roundTrip(listenPort)).toBe("denied");
    expect(await sidecar.envoy.counter("picoseg.denied.source")).toBe(1);
    const seen = Date.now();
    await waitFor("the server to read the denial", () => (fx!.server.decisions.proxies()[0]?.counts["deny:source"] === 1 ? true : undefined), 2000, 50);
    expect(Date.now() - seen).toBeLessThan(2000);
    await waitFor("the filter's report of the denial", () => fx!.server.observations.query("shop/card-db", 0).find((r) => r.report.denials.length > 0), 5000);

    const report = JSON.parse((await run(process.execPath, [...cli, "report", "--server", fx.server.httpUrl, "--format", "json"])).stdout) as ComplianceReport;
    expect(report.workloads).toHaveLength(1);
    const w = report.workloads[0]!;
    const status = fx.server.status().proxies[0]!.resources[0]!;
    expect(w).toMatchObject({
      workload: "shop/card-db",
      dataClass: "pci",
      regimes: ["pci-dss"],
      coverage: "enforce",
      segments: [{ name: "shop/card-db", mode: "enforce", compliance: ["pci-dss"] }],
      rules: [{ segment: "shop/card-db", rule: "from-payments-subnet", text: `from addresses 10.20.0.0/16; to port ${listenPort}; any protocol; at any time` }],
      proxies: [{ nodeId: "card-db-1", resource: "picoseg", acked: status.current, ackedAt: status.ackedAt, inSync: true }],
      decisions: { counts: { "deny:source": 1 }, sources: [{ reason: "source", source: "127.0.0.1", mode: "enforce", count: 1 }], unreadable: [] },
    });
    expect(w.findings.map((f) => f.check)).toEqual(["address-only", "any-protocol"]);
    expect(w.findings[1]!.requirements).toEqual([{ regime: "pci-dss", id: "1.2.5", title: expect.stringContaining("ports allowed") }]);

    const text = (await run(process.execPath, [...cli, "report", "--server", fx.server.httpUrl, "--compliance", "pci-dss"])).stdout;
    expect(text).toContain("shop/card-db · data class pci · pci-dss · coverage: ENFORCE");
    expect(text).toMatch(new RegExp(`card-db-1 picoseg: ACKed ${status.current!.slice(0, 8)} since \\d{4}-.*\\(in sync\\)`));
    expect(text).toContain("decisions since ");
    expect(text).toContain("deny:source 1");
    expect(text).toMatch(/denied attempts by source \(reported by the filters\):\n +source +127\.0\.0\.1 ×1, /);
    const html = (await run(process.execPath, [...cli, "report", "--server", fx.server.httpUrl, "--format", "html"])).stdout;
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<h2>shop/card-db <span class=\"cov enforce\">enforce</span></h2>");
    const hipaa = JSON.parse((await run(process.execPath, [...cli, "report", "--server", fx.server.httpUrl, "--compliance", "hipaa", "-o", "json"])).stdout) as ComplianceReport;
    expect(hipaa.workloads).toEqual([]);
    const bad = await run(process.execPath, [...cli, "report", "--server", fx.server.httpUrl, "--compliance", "sox"]).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('--compliance: pci-dss or hipaa, got "sox"') });

    // picoseg describe: the same workload, why it is selected, its sidecar's versions, its denials.
    const described = JSON.parse((await run(process.execPath, [...cli, "describe", "workload", "shop/card-db", "--server", fx.server.httpUrl, "-o", "json"])).stdout) as { workloads: unknown[] };
    expect(described.workloads).toEqual([expect.objectContaining({
      workload: "shop/card-db",
      segments: [{ name: "shop/card-db", mode: "enforce", compliance: ["pci-dss"], selects: { app: "card-db" } }],
      proxies: [expect.objectContaining({ nodeId: "card-db-1", sent: status.sent, acked: status.current, inSync: true })],
      decisions: expect.objectContaining({ counts: { "deny:source": 1 }, sources: [expect.objectContaining({ reason: "source", source: "127.0.0.1", count: 1 })] }),
    })]);
    const page = (await run(process.execPath, [...cli, "describe", "workload", "shop/card-db", "--server", fx.server.httpUrl])).stdout;
    expect(page).toContain("  shop/card-db (enforce): selects app=card-db; compliance pci-dss\n");
    // (the rule's line wraps at 100 columns)
    expect(page.replace(/\n +/g, " ")).toContain(`shop/card-db/from-payments-subnet (enforce): from addresses 10.20.0.0/16; to port ${listenPort}; any protocol; at any time\n`);
    expect(page).toMatch(new RegExp(`^  card-db-1 +picoseg +${status.sent!.slice(0, 8)} +${status.current!.slice(0, 8)} +in sync$`, "m"));
    expect(page).toMatch(/^Denials since .*: deny:source 1$/m);
    expect(page).toMatch(/^  source from 127\.0\.0\.1: 1, last /m);
    expect(page).toMatch(/^Precheck: +not available/m);
    expect(Math.max(...page.split("\n").map((l) => l.length))).toBeLessThanOrEqual(100);
    await expect(run(process.execPath, [...cli, "describe", "workload", "shop/nothing", "--server", fx.server.httpUrl])).rejects.toMatchObject({ stderr: expect.stringMatching(/shop\/nothing: no proxy of it is connected/) });

    // picoseg proxy-config: the configuration that proxy holds, decoded, and exactly as sent.
    const pc = JSON.parse((await run(process.execPath, [...cli, "proxy-config", "card-db-1", "--server", fx.server.httpUrl, "-o", "json"])).stdout) as { config: string; decoded: { segments: unknown[] } };
    expect(pc.decoded.segments).toEqual([{ segment: "shop/card-db", mode: "enforce", settings: {}, rules: [{ rule: "from-payments-subnet", ip: "10.20.0.0/16", port: `${listenPort} ${listenPort}` }] }]);
    expect(pc.config).toMatch(/^picoseg 1\n[\s\S]*\nrule from-payments-subnet\nip 10\.20\.0\.0\/16\n[\s\S]*end\n$/);
    const pcText = (await run(process.execPath, [...cli, "proxy-config", "card-db-1", "--server", fx.server.httpUrl])).stdout;
    expect(pcText).toContain(`segment shop/card-db (enforce)\n  rule from-payments-subnet\n    ip: 10.20.0.0/16\n    port: ${listenPort} ${listenPort}\n`);
    await expect(run(process.execPath, [...cli, "proxy-config", "nope", "--server", fx.server.httpUrl])).rejects.toMatchObject({ stderr: expect.stringMatching(/HTTP 404: no proxy "nope"/) });

    const metrics = await (await fetch(`${fx.server.httpUrl}/metrics`)).text();
    expect(metrics).toContain('picoseg_proxy_decisions_total{namespace="shop",workload="shop/card-db",verdict="deny",reason="source"} 1');

    // The interval's sum reaches the trail, and the trail verifies.
    await waitFor("a decisions entry in the audit trail", async () => ((await readFile(audit, "utf8")).includes('"kind":"decisions"') ? true : undefined), 3000, 100);
    const entries = (await readFile(audit, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
    const d = entries.find((e) => e.kind === "decisions")!;
    expect(d.data["counts"]).toEqual([{ workload: "shop/card-db", verdict: "deny", reason: "source", count: 1 }]);
    expect(entries.filter((e) => e.kind === "xds.ack").at(-1)!.data).toMatchObject({ node: "card-db-1", workload: "shop/card-db", resources: [{ name: "picoseg", version: status.current }] });
    expect(verifyTrail(audit)).toMatchObject({ ok: true });
  });

  it("a sidecar's Envoy restarted (its counters back at zero) adds to the counts; nothing is lost or counted twice", async () => {
    const [listenPort, adminPort] = (await freePorts(2)) as [number, number];
    fx = await startFixture({ "card-db.yaml": CARD_DB(listenPort) }, { wasmPath: defaultWasmPath(), decisionIntervalMs: 200 });
    const node = { id: "card-db-1", cluster: "card-db.shop", namespace: "shop", labels: { app: "card-db", "picoseg.io/data-class": "pci" }, workloadName: "card-db" };
    const counted = (): number | undefined => fx!.server.decisions.proxies()[0]?.counts["deny:source"];
    sidecar = await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort, adminPort, node });
    // The filter's config is in place: a denial is the filter's, not a listener still warming.
    await sidecar.envoy.waitForCounter(CONFIG_RELOAD, 1);
    expect(await roundTrip(listenPort)).toBe("denied");
    expect(await sidecar.envoy.counter("picoseg.denied.source")).toBe(1);
    await waitFor("the first denial read", () => (counted() === 1 ? true : undefined), 2000, 50);
    await sidecar.stop();
    sidecar = undefined;
    await waitFor("the proxy gone from the server", () => (fx!.server.status().proxies.length === 0 ? true : undefined), 5000, 50);
    await waitFor("the counters to drop it", () => (fx!.server.decisions.proxies().length === 0 ? true : undefined), 2000, 50);

    // The same node on fresh ports: the ones just released may already be another test file's
    // (free ports are picked at run time, and files run in parallel). The probe's source is
    // outside the rule's ipBlocks, so the denial is `source` on any port.
    const [listenAgain, adminAgain] = (await freePorts(2)) as [number, number];
    sidecar = await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort: listenAgain, adminPort: adminAgain, node });
    await sidecar.envoy.waitForCounter(CONFIG_RELOAD, 1);
    expect(await sidecar.envoy.counter("picoseg.denied.source")).toBe(0);
    expect(await roundTrip(listenAgain)).toBe("denied");
    expect(await sidecar.envoy.counter("picoseg.denied.source")).toBe(1);
    await waitFor("both denials counted", () => (counted() === 2 ? true : undefined), 2000, 50);
    // Read a few more times: still two.
    for (let i = 0; i < 3; i++) await fx.server.decisions.readAll();
    expect(counted()).toBe(2);
    const metrics = await (await fetch(`${fx.server.httpUrl}/metrics`)).text();
    expect(metrics).toContain('picoseg_proxy_decisions_total{namespace="shop",workload="shop/card-db",verdict="deny",reason="source"} 2');
  });
});
