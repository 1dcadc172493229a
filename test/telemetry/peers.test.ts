// A replica answers for the fleet: it asks each peer for its own reports with the caller's
// credential, merges them with its own, stores a report seen twice once, and names every peer that
// failed, refused, answered nonsense or was too slow, never waiting past the bound.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { gatherReports, mergeReports, observationsPath, parsePeerUrls } from "../../xds-server/src/telemetry/peers.js";
import type { StoredReport } from "../../xds-server/src/telemetry/store.js";
import { createCa, issueCertificate } from "../../xds-server/src/demo/pki.js";
import { report } from "./fixtures.js";

const entry = (node: string, seq: number, at: number): StoredReport => ({ at, node, workload: "shop/db", labels: { app: "db" }, report: report({ node, seq }) });

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A peer on a free loopback port that answers each request with `answer` (or never, when undefined). */
async function peer(answer: ((url: string, headers: IncomingHttpHeaders) => { code: number; body: string }) | undefined): Promise<string> {
  const s = createServer((req, res) => {
    if (!answer) return; // holds the request open: the slow peer
    const a = answer(req.url ?? "", req.headers);
    res.writeHead(a.code, { "content-type": "application/json" });
    res.end(a.body);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe("observations across replicas", () => {
  it("merges the peers' reports with its own, oldest first, a report held by two replicas once", () => {
    const a = entry("db-1", 1, 30);
    const b = entry("db-2", 1, 10);
    const again = { ...entry("db-1", 1, 50) };
    const merged = mergeReports([[a], [b, again], [entry("db-1", 2, 40)]]);
    expect(merged.map((r) => `${r.node}#${r.report.seq}@${r.at}`)).toEqual(["db-2#1@10", "db-1#1@30", "db-1#2@40"]);
  });

  it("asks each peer for its local reports with the caller's credential, and names those that did not answer", async () => {
    const asked: Array<{ url: string; auth: string | undefined }> = [];
    const good = await peer((url, h) => {
      asked.push({ url, auth: h.authorization });
      return { code: 200, body: JSON.stringify({ reports: [entry("db-2", 7, 20)] }) };
    });
    const refusing = await peer(() => ({ code: 401, body: "needs a bearer token or a client certificate\n" }));
    const garbled = await peer(() => ({ code: 200, body: JSON.stringify({ reports: [{ at: 1, node: "x" }] }) }));
    const slow = await peer(undefined);
    const down = await peer(undefined);
    servers.at(-1)!.close(); // nothing listens there any more
    const t0 = Date.now();
    const got = await gatherReports([entry("db-1", 1, 10)], { workload: "shop/db", sinceMs: 5 }, "Bearer t0k", {
      urls: [good, refusing, garbled, slow, down],
      timeoutMs: 400,
    });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(asked).toEqual([{ url: "/observations?workload=shop%2Fdb&since=5&scope=local", auth: "Bearer t0k" }]);
    expect(got.reports.map((r) => r.node)).toEqual(["db-1", "db-2"]);
    expect(got.peers.asked).toEqual([good, refusing, garbled, slow, down]);
    const why = Object.fromEntries(got.peers.missing.map((m) => [m.peer, m.reason]));
    expect(Object.keys(why)).toEqual([refusing, garbled, slow, down]);
    expect(why[refusing]).toBe("HTTP 401: needs a bearer token or a client certificate");
    expect(why[garbled]).toBe("reports[0]: expected {at, node, workload, report}");
    expect(why[slow]).toBe("no answer within 400 ms");
    expect(why[down]).toMatch(/ECONNREFUSED/);
  });

  it("checks an HTTPS peer's certificate against the CA it is given, and names a peer it cannot trust", async () => {
    const ca = createCa("mesh CA");
    const leaf = issueCertificate(ca, { commonName: "picoseg-xds", ips: ["127.0.0.1"], usage: "server" });
    const s = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ reports: [entry("db-2", 1, 20)] }));
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const url = `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const trusted = await gatherReports([], { sinceMs: 0 }, undefined, { urls: [url], timeoutMs: 2000, ca: Buffer.from(ca.certPem) });
    expect(trusted).toMatchObject({ peers: { missing: [] }, reports: [{ node: "db-2" }] });
    const other = createCa("another CA");
    const refused = await gatherReports([], { sinceMs: 0 }, undefined, { urls: [url], timeoutMs: 2000, ca: Buffer.from(other.certPem) });
    expect(refused.reports).toEqual([]);
    expect(refused.peers.missing).toEqual([{ peer: url, reason: expect.stringMatching(/certificate/) }]);
  });

  it("reads --peers as http(s)://host:port bases and names the one that is not", () => {
    expect(parsePeerUrls("http://a.svc:18080/, https://b.svc:18080", "--peers")).toEqual(["http://a.svc:18080", "https://b.svc:18080"]);
    expect(() => parsePeerUrls("http://a:1,b:2", "--peers")).toThrow('--peers: "b:2": expected http(s)://host:port, nothing after the port');
    expect(() => parsePeerUrls("http://a:1/observations", "--peers")).toThrow("nothing after the port");
    expect(() => parsePeerUrls(" , ", "--peers")).toThrow("--peers: expected URL,URL");
    expect(observationsPath({ sinceMs: 0 })).toBe("/observations?since=0");
  });
});
