// picoseg in a real Istio sidecar: a real istiod programs the listeners (reading
// istio-manifests/envoyfilter.yaml, overlaid only for local addresses), pilot-agent runs the
// installed Envoy with Istio's bootstrap, the picoseg filter's configuration comes by ECDS from the
// real `picoseg serve`, and real mTLS connections (as a peer sidecar makes them) go through a TCP
// port and an HTTP port of the workload.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpClient, Upstream, freePorts, sleep, waitFor } from "../../testkit/envoy/harness.js";
import type { Envoy } from "../../testkit/envoy/envoy.js";
import { chainsWithoutPicoseg, inboundChains } from "../../testkit/istio/chains.js";
import { IstioMesh } from "../../testkit/istio/mesh.js";
import type { IstioSidecar } from "../../testkit/istio/sidecar.js";

const NS = "payments";
const api = `spiffe://cluster.local/ns/${NS}/sa/api`;
const batch = `spiffe://cluster.local/ns/${NS}/sa/batch`;
const ops = "spiffe://cluster.local/ns/ops/sa/ops";
const reports = `spiffe://cluster.local/ns/${NS}/sa/reports`;

/** The workload's Istio config, as an operator of a workload outside the pod network writes it. */
function istioConfig(tcpPort: number, httpPort: number, tcpApp: number, httpApp: number): Record<string, string> {
  return {
    "payments-db.yaml": `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payments-db, namespace: ${NS} }
spec:
  hosts: [payments-db.${NS}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { name: tcp-postgres, number: ${tcpPort}, protocol: TCP }
    - { name: http-api, number: ${httpPort}, protocol: HTTP }
  workloadSelector: { labels: { app: payments-db } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: payments-db-1, namespace: ${NS} }
spec: { address: 127.0.0.10, labels: { app: payments-db }, serviceAccount: payments-db }
---
# No iptables here: the sidecar binds its inbound ports itself (captureMode NONE) and forwards to
# the application on loopback, as Istio does for a workload without traffic capture.
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: payments-db, namespace: ${NS} }
spec:
  workloadSelector: { labels: { app: payments-db } }
  ingress:
    - { port: { number: ${tcpPort}, protocol: TCP, name: tcp-postgres }, bind: 127.0.0.1, captureMode: NONE, defaultEndpoint: "127.0.0.1:${tcpApp}" }
    - { port: { number: ${httpPort}, protocol: HTTP, name: http-api }, bind: 127.0.0.1, captureMode: NONE, defaultEndpoint: "127.0.0.1:${httpApp}" }
  egress:
    - hosts: ["istio-system/*"]
---
# Istio's own authorization on the same workload: picoseg adds to it, never replaces it.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: payments-db-no-batch, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: payments-db } }
  action: DENY
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/${NS}/sa/batch"] } }] }]
`,
  };
}

function segment(tcpPort: number, httpPort: number, opts: { apiOnTcp: boolean }): string {
  return `
apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: payments-db, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: payments-db } }
  rules:
${opts.apiOnTcp ? `    - name: api-tcp
      from: { principals: ["${api}"] }
      ports: [${tcpPort}]
      limits: { maxBytesIn: 1Ki }
` : ""}    - name: api-http
      from: { principals: ["${api}"] }
      ports: [${httpPort}]
      limits: { maxBytesIn: 4Ki }
    - name: ops-http
      from: { principals: ["${ops}"] }
      ports: [${httpPort}]
    - name: reports-tcp
      from: { principals: ["${reports}"] }
      ports: [${tcpPort}]
    - name: batch-tcp     # picoseg admits it; Istio's AuthorizationPolicy does not
      from: { principals: ["${batch}"] }
      ports: [${tcpPort}]
`;
}

let mesh: IstioMesh;
let db: IstioSidecar;
let envoy: Envoy;
let tcpApp: Upstream;
let httpApp: Server;
let httpRequests = 0;
let tcpPort: number;
let httpPort: number;

const counter = (reason: string): Promise<number> => envoy.counter(reason === "allowed" ? "picoseg.allowed" : `picoseg.denied.${reason}`);

beforeAll(async () => {
  tcpApp = await Upstream.start();
  httpApp = createServer((req, res) => {
    httpRequests++;
    req.resume();
    req.on("end", () => res.end("payments-db says hi\n"));
  });
  await new Promise<void>((r) => httpApp.listen(0, "127.0.0.1", r));
  const httpAppPort = (httpApp.address() as { port: number }).port;
  [tcpPort, httpPort] = (await freePorts(2)) as [number, number];
  mesh = await IstioMesh.start({
    istioConfig: istioConfig(tcpPort, httpPort, tcpApp.port, httpAppPort),
    policies: { "payments-db.yaml": segment(tcpPort, httpPort, { apiOnTcp: true }) },
  });
  db = await mesh.sidecar({
    pod: "payments-db-1", ip: "127.0.0.10", namespace: NS, serviceAccount: "payments-db",
    labels: { app: "payments-db", version: "v1" },
    annotations: { "picoseg.io/max-bytes-in": "512" }, // the app team tightens the segment's 1Ki
  });
  envoy = db.envoy;
  // Istio's listeners are up and the filter's config has arrived by ECDS (the module fetched remotely).
  await waitFor("both inbound listeners active", async () => {
    const ls = await db.listeners();
    return [tcpPort, httpPort].every((p) => ls.some((l) => l.address?.socket_address?.port_value === p && !l.warming)) ? true : undefined;
  }, 30_000, 200);
  await waitFor("the picoseg config ACKed", async () => {
    const p = (await mesh.picoseg.proxies()).find((x) => x.nodeId.includes("payments-db-1"));
    const r = p?.resources[0];
    return r?.acked !== undefined && r.acked === r.current ? true : undefined;
  }, 30_000, 200);
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
  await tcpApp?.stop();
  await new Promise<void>((r) => (httpApp ? httpApp.close(() => r()) : r()));
});

/** One mTLS connection from `principal`'s sidecar to the TCP port: echo back, or closed. */
async function tcpExchange(ns: string, sa: string, bytes: Buffer): Promise<TcpClient> {
  const c = await TcpClient.connect(tcpPort, { tls: mesh.peerTls(ns, sa, db) });
  await c.write(bytes);
  return c;
}

/** One HTTP/1.1 request over mTLS (ALPN istio-http/1.1, as a peer sidecar sends it). */
async function httpExchange(ns: string, sa: string, body = ""): Promise<TcpClient> {
  const c = await TcpClient.connect(httpPort, { tls: mesh.peerTls(ns, sa, db, "istio-http/1.1") });
  const head = `${body ? "POST" : "GET"} / HTTP/1.1\r\nhost: payments-db.${NS}.svc.cluster.local\r\ncontent-length: ${body.length}\r\n\r\n`;
  await c.write(head + body);
  return c;
}

describe("picoseg in an Istio sidecar programmed by a real istiod", () => {
  it("the sidecar's node carries what the picoseg server selects by: namespace, labels, annotations", async () => {
    const p = (await mesh.picoseg.proxies()).find((x) => x.nodeId.includes("payments-db-1"))!;
    expect(p.nodeId).toBe(`sidecar~127.0.0.10~payments-db-1.${NS}~${NS}.svc.cluster.local`);
    expect(p.workload.namespace).toBe(NS);
    expect(p.workload.labels).toMatchObject({ app: "payments-db" });
    expect(p.workload.annotations).toMatchObject({ "picoseg.io/max-bytes-in": "512" });
    expect(p.segments).toEqual([`${NS}/payments-db`]);
    // Its ECDS stream is mTLS with the sidecar's Istio identity, which matches what it claims.
    expect(p.streams.map((s) => s.identity)).toEqual([`spiffe://cluster.local/ns/${NS}/sa/payments-db`]);
  });

  it("every inbound chain istiod gave this sidecar (TCP and HTTP, plaintext and mTLS) runs picoseg", async () => {
    const listeners = await db.listeners();
    const chains = inboundChains(listeners);
    expect(new Set(chains.map((c) => c.port))).toEqual(new Set([tcpPort, httpPort]));
    expect(chains.filter((c) => c.mtls).length).toBeGreaterThanOrEqual(2);
    expect(chainsWithoutPicoseg(listeners)).toEqual([]);
  });

  it("TCP port: a connection the segment admits is proxied both ways and stays open", async () => {
    const before = await counter("allowed");
    const c = await tcpExchange(NS, "api", Buffer.from("SELECT 1;\n"));
    expect((await c.waitForBytes(10, 5000)).toString()).toBe("SELECT 1;\n");
    expect(await c.staysOpenFor(400)).toBe(true);
    expect(await counter("allowed")).toBe(before + 1);
    c.destroy();
  });

  it("TCP port: another principal is denied by source, and nothing reaches the application", async () => {
    const before = await counter("source");
    const sent = tcpApp.totalReceived();
    const c = await tcpExchange("shop", "web", Buffer.from("SELECT * FROM cards;\n"));
    await c.waitForClose(5000);
    expect(c.received().length).toBe(0);
    await envoy.waitForCounter("picoseg.denied.source", before + 1);
    const d = await envoy.waitForDecision((x) => x.reason === "source" && x.principal === "spiffe://cluster.local/ns/shop/sa/web");
    expect(d).toMatchObject({ picoseg: "deny", port: tcpPort }); // no rule of any segment admits the source
    expect(tcpApp.totalReceived()).toBe(sent);
  });

  it("TCP port: a principal admitted only on the HTTP port is denied by port", async () => {
    const before = await counter("port");
    const c = await tcpExchange("ops", "ops", Buffer.from("hello\n"));
    await c.waitForClose(5000);
    expect(c.received().length).toBe(0);
    await envoy.waitForCounter("picoseg.denied.port", before + 1);
  });

  it("TCP port: bytes-in at the annotation's 512 bytes, not the segment's 1Ki: 512 pass, byte 513 closes", async () => {
    const c = await tcpExchange(NS, "api", Buffer.alloc(512, 0x61));
    await c.waitForBytes(512, 5000);
    const up = tcpApp.connections.at(-1)!;
    const before = await counter("bytes-in");
    await c.write(Buffer.from("b"));
    await c.waitForClose(5000);
    await envoy.waitForCounter("picoseg.denied.bytes-in", before + 1);
    await up.waitForClose(5000);
    expect(up.received().length).toBe(512);
  });

  it("HTTP port: an admitted request gets the application's answer through Istio's HTTP chain", async () => {
    const c = await httpExchange(NS, "api");
    const res = await c.waitForBytes(20, 5000);
    expect(res.toString()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(res.toString()).toContain("payments-db says hi");
    c.destroy();
  });

  it("HTTP port: another principal is denied by source before any request reaches the application", async () => {
    const served = httpRequests;
    const before = await counter("source");
    const c = await httpExchange("shop", "web");
    await c.waitForClose(5000);
    expect(c.received().toString()).not.toContain("HTTP/1.1");
    await envoy.waitForCounter("picoseg.denied.source", before + 1);
    expect(httpRequests).toBe(served);
  });

  it("HTTP port: a principal admitted only on the TCP port is denied by port", async () => {
    const served = httpRequests;
    const before = await counter("port");
    const c = await httpExchange(NS, "reports");
    await c.waitForClose(5000);
    expect(c.received().toString()).not.toContain("HTTP/1.1");
    await envoy.waitForCounter("picoseg.denied.port", before + 1);
    await envoy.waitForDecision((x) => x.reason === "port" && x.principal === reports && x.port === httpPort);
    expect(httpRequests).toBe(served);
  });

  it("HTTP port: a request body past the annotation's 512 bytes is cut (bytes-in), unanswered", async () => {
    const served = httpRequests;
    const before = await counter("bytes-in");
    const c = await httpExchange(NS, "api", "x".repeat(600));
    await c.waitForClose(5000);
    expect(c.received().toString()).not.toContain("200 OK");
    await envoy.waitForCounter("picoseg.denied.bytes-in", before + 1);
    expect(httpRequests).toBe(served);
  });

  it("Istio's AuthorizationPolicy still applies: a principal picoseg admits is refused by Istio's RBAC", async () => {
    const rbacBefore = sum(await envoy.stats("rbac.*denied"));
    const sent = tcpApp.totalReceived();
    const c = await tcpExchange(NS, "batch", Buffer.from("COPY cards TO STDOUT;\n"));
    await c.waitForClose(5000);
    expect(c.received().length).toBe(0);
    await waitFor("Istio's RBAC to count the denial", async () => (sum(await envoy.stats("rbac.*denied")) > rbacBefore ? true : undefined), 5000);
    expect(tcpApp.totalReceived()).toBe(sent);
  });

  it("a policy edit is enforced within 2 s, with Istio's listeners untouched", async () => {
    const listenerStats = "listener_manager\\.(listener_added|listener_modified|listener_removed|total_listeners_draining)$";
    const before = await envoy.stats(listenerStats);
    expect(before.size, "Istio's stats matcher keeps listener_manager's counters").toBe(4);
    const acked = async (): Promise<string | undefined> =>
      (await mesh.picoseg.proxies()).find((x) => x.nodeId.includes("payments-db-1"))?.resources[0]?.acked;
    const ackedBefore = await acked();
    mesh.writePolicy("payments-db.yaml", segment(tcpPort, httpPort, { apiOnTcp: false }));
    const t0 = Date.now();
    let denied = false;
    while (!denied && Date.now() - t0 < 2000) {
      const c = await tcpExchange(NS, "api", Buffer.from("ping\n"));
      await waitFor("echo or close", () => (c.received().length >= 5 || c.closedBy ? true : undefined), 3000);
      denied = c.closedBy !== undefined && c.received().length === 0;
      c.destroy();
      if (!denied) await sleep(50);
    }
    expect(denied, "the api principal is still admitted on the TCP port 2 s after the edit").toBe(true);
    await envoy.waitForDecision((x) => x.reason === "port" && x.principal === api);
    expect(await envoy.stats(listenerStats)).toEqual(before);
    // The new config came by ECDS and was ACKed; Envoy's listeners were neither added, modified nor drained.
    await waitFor("the edited config ACKed", async () => ((await acked()) !== ackedBefore ? true : undefined), 5000);
    // The HTTP port still admits it under the edited segment.
    const c = await httpExchange(NS, "api");
    expect((await c.waitForBytes(20, 5000)).toString()).toMatch(/^HTTP\/1\.1 200 OK/);
    c.destroy();
  });
});

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}
