// Learning with two replicas: each keeps only the reports of the proxies whose xDS stream it holds,
// so each replica, given every replica's URL (`serve --peers`), answers for the whole fleet. Two
// real servers on 127.0.0.1 behind one admin token, each serving a real Envoy in learning mode:
// `picoseg learn --server` one of them proposes from both proxies' traffic, and /proposals on the
// other gives the same segment. With one replica down, learn and what-if warn on stderr naming it,
// and the proposal says in its header that it was made from partial data.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { learningSegment } from "../../xds-server/src/learn/segment.js";
import type { WorkloadProposal } from "../../xds-server/src/learn/proposals.js";
import type { StoredReport } from "../../xds-server/src/telemetry/store.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";
import { Stops, XdsSidecar, exchange, freePorts, picoseg, stopAllEnvoys, tokenScratch, waitFor } from "../../testkit/envoy/harness.js";

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

const TOKEN = "replicas-test-token-8d2e41";
const GET = "GET / HTTP/1.1\r\nHost: db\r\n\r\n";

/** Connections of `node` a server stored (its own reports only). */
const connsOf = (fx: Fixture, node: string): number =>
  fx.server.observations.query("shop/db", 0).filter((r) => r.node === node).flatMap((r) => r.report.conns).reduce((a, c) => a + c.n, 0);

describe("learning across two replicas", () => {
  it("proposes from both replicas' proxies, and says which replica is missing when one is down", async () => {
    const { dir: scratch, tokenFile } = await tokenScratch(stops, "picoseg-replicas-", TOKEN);
    const [httpA, httpB, portA, portB] = (await freePorts(4)) as [number, number, number, number];
    const peers = { urls: [`http://127.0.0.1:${httpA}`, `http://127.0.0.1:${httpB}`], timeoutMs: 2000 };
    const replica = async (httpPort: number): Promise<Fixture> =>
      startFixture(
        { "db.yaml": learningSegment({ name: "db-learn", namespace: "shop", app: "db", ports: [portA, portB] }) },
        { wasmPath: defaultWasmPath(), httpPort, adminTokenFile: tokenFile, peers, observations: { report: { intervalMs: 500 } } },
      );
    const a = stops.add(await replica(httpA));
    let bClosed = false;
    const b = await replica(httpB);
    stops.add({ close: () => (bClosed ? Promise.resolve() : b.close()) });
    const node = (id: string) => ({ id, cluster: "db.shop", namespace: "shop", labels: { app: "db" } });
    stops.add(await XdsSidecar.start({ xdsPort: a.server.xdsPort, listenPort: portA, node: node("db-on-a") }));
    stops.add(await XdsSidecar.start({ xdsPort: b.server.xdsPort, listenPort: portB, node: node("db-on-b") }));
    await waitFor("both configs ACKed", () => (a.server.status().proxies[0]?.resources[0]?.acked && b.server.status().proxies[0]?.resources[0]?.acked ? true : undefined), 10_000);

    // 127.0.0.2 reaches the proxy served by A, 127.0.0.3 the one served by B.
    await exchange(portA, "127.0.0.2", GET);
    await exchange(portA, "127.0.0.2", GET);
    await exchange(portB, "127.0.0.3", GET);
    await waitFor("each replica stored its own proxy's reports", () => {
      const [onA, onB] = [connsOf(a, "db-on-a"), connsOf(b, "db-on-b")];
      if (onA === 2 && onB === 1) return true;
      throw new Error(`A holds ${onA} of db-on-a's 2 connections, B ${onB} of db-on-b's 1`);
    }, 10_000);
    // Each replica holds one proxy's reports only, and refuses the other's proxy.
    expect(connsOf(a, "db-on-b") + connsOf(b, "db-on-a")).toBe(0);

    const auth = { authorization: `Bearer ${TOKEN}` };
    const local = (await (await fetch(`${a.server.httpUrl}/observations?workload=shop/db&since=0&scope=local`, { headers: auth })).json()) as { reports: StoredReport[] };
    expect(new Set(local.reports.map((r) => r.node))).toEqual(new Set(["db-on-a"]));
    expect((await fetch(`${a.server.httpUrl}/observations?workload=shop/db&since=0`)).status).toBe(401);

    // The whole fleet through A: both sources, no warning.
    const learn = (server: string, ...extra: string[]) => picoseg("learn", "--server", server, "--token-file", tokenFile, "--workload", "shop/db", "--since", "1h", ...extra);
    const whole = await learn(a.server.httpUrl);
    expect(whole.stderr).toBe("");
    expect(whole.stdout).toMatch(/^# Proposed by picoseg learn from 3 connections of shop\/db/);
    expect(whole.stdout).toMatch(/- "127\.0\.0\.2\/32"\s+# 2 connections/);
    expect(whole.stdout).toMatch(/- "127\.0\.0\.3\/32"\s+# 1 connections/);
    const dir = path.join(scratch, "proposal");
    await mkdir(dir);
    await writeFile(path.join(dir, "p.yaml"), whole.stdout);
    const validated = await picoseg("validate", path.join(dir, "p.yaml"));
    expect(validated.stdout + validated.stderr).toMatch(/1 segment valid/);

    // B's /proposals: the same proposal, what-if of it over all three connections, no peer missing.
    const proposals = (await (await fetch(`${b.server.httpUrl}/proposals?since=1h`, { headers: auth })).json()) as {
      peers: { asked: string[]; missing: unknown[] };
      workloads: WorkloadProposal[];
    };
    expect(proposals.peers).toEqual({ asked: peers.urls, missing: [] });
    const db = proposals.workloads.find((w) => w.workload === "shop/db")!;
    expect(db.connections).toBe(3);
    const body = (yaml: string): string => yaml.slice(yaml.indexOf("apiVersion:"));
    expect(body(db.proposal!)).toBe(body(whole.stdout));
    expect(db.whatIf.proposal!.clean).toEqual({ lo: 3, hi: 3 });
    expect(db.whatIf.inForce).toMatchObject({ segments: ["shop/db-learn"], connections: 3, clean: { lo: 3, hi: 3 } });

    // The console signs in by cookie: A forwards the cookie's token to B as a bearer header.
    const byCookie = (await (await fetch(`${a.server.httpUrl}/proposals?since=1h&workload=shop/db`, { headers: { cookie: `picoseg_token=${TOKEN}` } })).json()) as typeof proposals;
    expect(byCookie.peers.missing).toEqual([]);
    expect(byCookie.workloads.map((w) => [w.workload, w.connections])).toEqual([["shop/db", 3]]);

    // B goes down: A answers with its own proxy's traffic, and says so.
    await b.close();
    bClosed = true;
    const partial = await learn(a.server.httpUrl);
    expect(partial.stderr).toContain("picoseg learn: WARNING: PARTIAL DATA: 1 replica(s) did not answer");
    expect(partial.stderr).toMatch(new RegExp(`picoseg learn: WARNING: http://127\\.0\\.0\\.1:${httpB}: .*ECONNREFUSED`));
    expect(partial.stdout).toMatch(/^# PARTIAL DATA: 1 replica\(s\) did not answer/);
    expect(partial.stdout).toMatch(/- "127\.0\.0\.2\/32"\s+# 2 connections/);
    expect(partial.stdout).not.toContain("127.0.0.3");
    const whatIf = await picoseg("what-if", "--policies", dir, "--server", a.server.httpUrl, "--token-file", tokenFile, "--workload", "shop/db", "--since", "1h");
    expect(whatIf.stderr).toContain(`picoseg what-if: WARNING: http://127.0.0.1:${httpB}: `);
    expect(whatIf.stdout).toMatch(/^what-if for shop\/db: 2 observed connections/);
  });
});
