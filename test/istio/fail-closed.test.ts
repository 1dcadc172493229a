// Fail closed under Istio: a sidecar that starts while the picoseg server is unreachable gets its
// listeners from istiod as usual, Istio's own traffic (the readiness endpoint, istiod's xDS) works,
// and the chains picoseg guards deny every connection; once the server is up, traffic follows its
// policy without restarting Envoy.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpClient, Upstream, freePorts, sleep, waitFor } from "../../testkit/envoy/harness.js";
import { IstioMesh } from "../../testkit/istio/mesh.js";
import type { IstioSidecar } from "../../testkit/istio/sidecar.js";

const api = "spiffe://cluster.local/ns/inventory/sa/api";

let mesh: IstioMesh;
let app: Upstream;
let sidecar: IstioSidecar;
let port: number;

beforeAll(async () => {
  app = await Upstream.start();
  [port] = (await freePorts(1)) as [number];
  const istioConfig = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: stock, namespace: inventory }
spec:
  workloadSelector: { labels: { app: stock } }
  ingress:
    - { port: { number: ${port}, protocol: TCP, name: tcp-stock }, bind: 127.0.0.1, captureMode: NONE, defaultEndpoint: "127.0.0.1:${app.port}" }
  egress:
    - hosts: ["istio-system/*"]
`;
  const policy = `
apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: stock, namespace: inventory }
spec:
  selector: { matchLabels: { app: stock } }
  rules:
    - { name: api, from: { principals: ["${api}"] }, ports: [${port}] }
`;
  mesh = await IstioMesh.start({ istioConfig: { "stock.yaml": istioConfig }, policies: { "stock.yaml": policy }, startPicoseg: false });
  sidecar = await mesh.sidecar({ pod: "stock-1", ip: "127.0.0.30", namespace: "inventory", serviceAccount: "stock", labels: { app: "stock" } });
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
  await app?.stop();
});

/** "allowed" when the echo comes back, "denied" when the sidecar closes first. */
async function probe(): Promise<"allowed" | "denied"> {
  const c = await TcpClient.connect(port, { tls: mesh.peerTls("inventory", "api", sidecar) }).catch(() => undefined);
  if (!c) return "denied"; // refused or reset during the handshake: nothing got through either
  try {
    await c.write("count\n");
    await waitFor("echo or close", () => (c.received().length >= 6 || c.closedBy ? true : undefined), 5000);
    return c.received().length >= 6 ? "allowed" : "denied";
  } finally {
    c.destroy();
  }
}

describe("the picoseg server unreachable when the sidecar starts", () => {
  it("Istio's own traffic works: istiod's listeners arrive and the sidecar reports ready", async () => {
    await waitFor("the inbound listener from istiod", async () =>
      ((await sidecar.listeners()).some((l) => l.address?.socket_address?.port_value === port) ? true : undefined), 30_000, 200);
    const lds = await sidecar.envoy.stats("^listener_manager\\.lds\\.update_success$");
    expect(lds.get("listener_manager.lds.update_success")).toBeGreaterThanOrEqual(1);
    // pilot-agent's readiness endpoint (what the kubelet probes) on Envoy's static 15021 listener.
    await waitFor("the sidecar's readiness probe", async () => {
      const r = await fetch("http://127.0.0.1:15021/healthz/ready", { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    }, 30_000, 250);
  });

  it("the picoseg-guarded chain denies: nothing reaches the application", async () => {
    const sent = app.totalReceived();
    for (let i = 0; i < 3; i++) expect(await probe()).toBe("denied");
    expect(app.totalReceived()).toBe(sent);
  });

  it("once the server is up, traffic follows its policy without an Envoy restart", async () => {
    const epoch = await sidecar.envoy.adminText("/server_info").then((t) => (JSON.parse(t) as { uptime_current_epoch: string }).uptime_current_epoch);
    const start = Date.now();
    await mesh.picoseg.start();
    // Envoy's ECDS stream retries with backoff; the first success delivers the config and the module.
    await waitFor("the admitted principal to get through", async () => ((await probe()) === "allowed" ? true : undefined), 60_000, 250);
    const info = JSON.parse(await sidecar.envoy.adminText("/server_info")) as { uptime_current_epoch: string; state: string };
    expect(info.state).toBe("LIVE");
    expect(parseDuration(info.uptime_current_epoch)).toBeGreaterThanOrEqual(parseDuration(epoch) + Math.floor((Date.now() - start) / 1000) - 1);
    // And the policy, not a default: another principal is still denied.
    const c = await TcpClient.connect(port, { tls: mesh.peerTls("shop", "web", sidecar) });
    await c.write("count\n");
    await c.waitForClose(5000);
    await sidecar.envoy.waitForDecision((d) => d.reason === "source" && d.principal === "spiffe://cluster.local/ns/shop/sa/web");
    await sleep(0);
  });
});

/** Envoy's "123s" duration strings. */
function parseDuration(s: string): number {
  return Number(s.replace(/s$/, ""));
}
