// Learning mode end to end: a real Envoy sidecar whose segment learns reports its connections over
// its own xDS cluster (Envoy's gRPC client, proxy_grpc_call) to the real server, which files them
// under the workload; reports from strangers, malformed or oversize ones are refused and counted.
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { learningSegment } from "../../xds-server/src/learn/segment.js";
import { REPORT_PATH } from "../../xds-server/src/telemetry/service.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { Stops, TcpClient, XdsSidecar, exchange, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { startFixture } from "../../testkit/xds/server-fixture.js";
import { generateMtls } from "../../xds-server/src/demo/pki.js";

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

function rawReport(address: string, body: Buffer, credentials = grpc.credentials.createInsecure()): Promise<grpc.StatusObject> {
  const client = new grpc.Client(address, credentials);
  return new Promise((resolve) => {
    client.makeUnaryRequest(REPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, body, (err) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details, metadata: err.metadata } : { code: 0, details: "", metadata: new grpc.Metadata() });
    });
  });
}

describe("learning mode through a real Envoy", () => {
  it("the sidecar reports its connections to the server it is served by, filed under its workload", async () => {
    const [listenPort] = (await freePorts(1)) as [number];
    const learning = learningSegment({ name: "db-learn", namespace: "shop", app: "db", ports: [listenPort] });
    const fx = stops.add(await startFixture({ "db.yaml": learning }, { wasmPath: defaultWasmPath(), observations: { report: { intervalMs: 1000 } } }));
    const sidecar = stops.add(await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort, node: { id: "db-learn-1", cluster: "db.shop", namespace: "shop", labels: { app: "db" } } }));
    await waitFor("the config ACKed", () => fx.server.status().proxies[0]?.resources[0]?.acked, 5000);
    await exchange(listenPort, "127.0.0.2", "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await exchange(listenPort, "127.0.0.2", "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
    await exchange(listenPort, "127.0.0.3", "*1\r\n$4\r\nPING\r\n");
    const store = fx.server.observations;
    const total = () => store.query("shop/db", 0).flatMap((r) => r.report.conns).reduce((a, c) => a + c.n, 0);
    await waitFor("3 connections reported", () => (total() === 3 ? true : undefined), 10_000);
    const reports = store.query("shop/db", 0);
    expect(reports[0]).toMatchObject({ node: "db-learn-1", workload: "shop/db", labels: { app: "db" } });
    const conns = reports.flatMap((r) => r.report.conns);
    const http = conns.filter((c) => c.ip === "127.0.0.2");
    expect(http.reduce((a, c) => a + c.n, 0)).toBe(2);
    expect(http[0]).toMatchObject({ principal: "", port: listenPort, proto: "http1" });
    expect(conns.find((c) => c.ip === "127.0.0.3")).toMatchObject({ proto: "redis", n: 1, in: [14, 14, 14], out: [14, 14, 14] });
    // The HTTP side shows them to learn and what-if, behind the same door as /status.
    const res = await fetch(`${fx.server.httpUrl}/observations?workload=shop/db&since=0`);
    expect(((await res.json()) as { reports: unknown[] }).reports.length).toBe(reports.length);
    const metrics = await (await fetch(`${fx.server.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/picoseg_observe_reports_total\{result="accepted"\} [1-9]/);
    expect((await sidecar.envoy.stats("wasmcustom")).get("wasmcustom.picoseg.observe.reports_sent")).toBeGreaterThan(0);
  });

  it("refuses reports of unknown nodes, malformed and oversize bodies, with a clear status, and counts them", async () => {
    const fx = stops.add(await startFixture({}, { wasmPath: defaultWasmPath() }));
    const addr = fx.server.xdsAddress;
    const report = { v: 1, node: "nobody", boot: 1, seq: 1, from: 1, to: 2, conns: [], denials: [], dropped: { conns: 0, denials: 0 } };
    const unknown = await rawReport(addr, Buffer.from(JSON.stringify(report)));
    expect(unknown).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(unknown.details).toMatch(/node "nobody" holds no xDS stream/);
    const malformed = await rawReport(addr, Buffer.from("{not json"));
    expect(malformed).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(malformed.details).toMatch(/malformed report: report is not JSON/);
    const oversize = await rawReport(addr, Buffer.alloc(1024 * 1024 + 1, 32));
    expect(oversize).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    const metrics = await (await fetch(`${fx.server.httpUrl}/metrics`)).text();
    for (const result of ["unknown-node", "malformed", "oversize"]) expect(metrics).toContain(`picoseg_observe_reports_total{result="${result}"} 1`);
  });

  it("over mTLS, takes the report that comes with the sidecar's own certificate and refuses the node's id under another", async () => {
    const DB = "spiffe://cluster.local/ns/shop/sa/db";
    const STRANGER = "spiffe://cluster.local/ns/shop/sa/etl";
    const pki = generateMtls([DB, STRANGER]);
    stops.add({ close: async () => pki.cleanup() });
    const [listenPort] = (await freePorts(1)) as [number];
    const learning = learningSegment({ name: "db-learn", namespace: "shop", app: "db", ports: [listenPort] });
    const fx = stops.add(await startFixture({ "db.yaml": learning }, {
      wasmPath: defaultWasmPath(),
      observations: { report: { intervalMs: 1000 } },
      tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile },
    }));
    const own = pki.clients.get(DB)!;
    stops.add(await XdsSidecar.start({
      xdsPort: fx.server.xdsPort,
      listenPort,
      xdsTls: { caFile: pki.caFile, certFile: own.certFile, keyFile: own.keyFile },
      node: { id: "db-mtls", cluster: "db.shop", namespace: "shop", serviceAccount: "db", labels: { app: "db" } },
    }));
    await waitFor("the config ACKed", () => fx.server.status().proxies[0]?.resources[0]?.acked, 5000);
    await exchange(listenPort, "127.0.0.2", "GET / HTTP/1.1\r\n\r\n");
    await waitFor("the report", () => fx.server.observations.query("shop/db", 0)[0], 10_000);

    // Same namespace, another service account: the node id is not its to report for.
    const stranger = pki.clientTls(STRANGER);
    const creds = grpc.credentials.createSsl(Buffer.from(stranger.caPem), Buffer.from(stranger.keyPem), Buffer.from(stranger.certPem));
    const body = { v: 1, node: "db-mtls", boot: 1, seq: 1, from: 1, to: 2, conns: [], denials: [], dropped: { conns: 0, denials: 0 } };
    const refused = await rawReport(fx.server.xdsAddress, Buffer.from(JSON.stringify(body)), creds);
    expect(refused).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(refused.details).toContain(`proved ${DB} on its xDS stream; this report comes with ${STRANGER}`);
  });

  it("streams each reported denial to /decisions/live (server-sent events), by reason and source", async () => {
    const [listenPort] = (await freePorts(1)) as [number];
    // Enforcing, learning, and admitting only 127.0.0.2: 127.0.0.3 is denied for its source.
    const segment = learningSegment({ name: "db-learn", namespace: "shop", app: "db", ports: [listenPort] })
      .replace("mode: audit", "mode: enforce")
      .replace("    - name: observe-all\n", '    - name: observe-all\n      from: { ipBlocks: ["127.0.0.2/32"] }\n');
    const fx = stops.add(await startFixture({ "db.yaml": segment }, { wasmPath: defaultWasmPath(), observations: { report: { intervalMs: 500 } } }));
    stops.add(await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort, node: { id: "db-live", cluster: "db.shop", namespace: "shop", labels: { app: "db" } } }));
    await waitFor("the config ACKed", () => fx.server.status().proxies[0]?.resources[0]?.acked, 5000);
    const abort = new AbortController();
    stops.add({ close: async () => abort.abort() });
    const res = await fetch(`${fx.server.httpUrl}/decisions/live`, { signal: abort.signal });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    const frames = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
      }
    })().catch(() => undefined);
    const denied = await TcpClient.connect(listenPort, { from: "127.0.0.3" });
    await waitFor("the denial closed", () => denied.closedBy, 3000);
    const started = Date.now();
    const frame = await waitFor("the live event", () => /event: denials\ndata: (.*)\n\n/.exec(text)?.[1], 5000);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(JSON.parse(frame)).toMatchObject({ workload: "shop/db", node: "db-live", denials: [{ reason: "source", source: "127.0.0.3", mode: "enforce", count: 1 }] });
    abort.abort();
    await frames;
  });
});

