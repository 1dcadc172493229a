// Every inbound chain a real istiod gives a sidecar carries picoseg: the chains of each TCP and HTTP
// service port, plaintext and mTLS (ISTIO_MUTUAL), and the passthrough chains of the virtual inbound
// listener (traffic to ports no service declares). Read from the listener dump of the Envoy that
// istiod programmed, for a sidecar in Istio's default traffic-capture mode (REDIRECT): its
// virtualInbound listener binds 0.0.0.0:15006, inside this test's own network namespace.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { waitFor } from "../../testkit/envoy/harness.js";
import { chainsWithoutPicoseg, inboundChains, TERMINAL_FILTERS } from "../../testkit/istio/chains.js";
import { localEnvoyFilter } from "../../testkit/istio/istiod.js";
import { IstioMesh } from "../../testkit/istio/mesh.js";
import type { IstioSidecar } from "../../testkit/istio/sidecar.js";

const LEDGER = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ledger, namespace: payments }
spec:
  hosts: [ledger.payments.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { name: tcp-ledger, number: 7000, protocol: TCP }
    - { name: http-ledger, number: 7080, protocol: HTTP }
  workloadSelector: { labels: { app: ledger } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ledger-1, namespace: payments }
spec: { address: 127.0.0.20, labels: { app: ledger }, serviceAccount: ledger }
`;

let mesh: IstioMesh;
let ledger: IstioSidecar;
let xdsPort: number;

beforeAll(async () => {
  mesh = await IstioMesh.start({ istioConfig: { "ledger.yaml": LEDGER }, policies: {} });
  ({ xdsPort } = mesh.picoseg);
  ledger = await mesh.sidecar(
    { pod: "ledger-1", ip: "127.0.0.20", namespace: "payments", serviceAccount: "ledger", labels: { app: "ledger" } },
    "REDIRECT",
  );
  await waitFor("the virtual inbound listener", async () => ((await ledger.listeners()).some((l) => l.name === "virtualInbound") ? true : undefined), 30_000, 200);
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
});

describe("the EnvoyFilter on every inbound chain istiod builds", () => {
  it("each chain ends in tcp_proxy or http_connection_manager, with picoseg right before it", async () => {
    const listeners = await ledger.listeners();
    const chains = inboundChains(listeners);
    for (const c of chains) expect(TERMINAL_FILTERS, `${c.listener}/${c.chain} ends in ${c.terminal}`).toContain(c.terminal);
    expect(chainsWithoutPicoseg(listeners)).toEqual([]);
  });

  it("covers service ports (TCP and HTTP, plaintext and mTLS) and the passthrough chains", async () => {
    const chains = inboundChains(await ledger.listeners());
    const has = (pred: (c: (typeof chains)[number]) => boolean, what: string): void =>
      expect(chains.some(pred), `no inbound chain for ${what}: ${JSON.stringify(chains.map((c) => [c.chain, c.port, c.transport, c.mtls]))}`).toBe(true);
    const tcp = "envoy.filters.network.tcp_proxy";
    const http = "envoy.filters.network.http_connection_manager";
    has((c) => c.port === 7000 && c.terminal === tcp && c.mtls, "TCP port 7000 over mTLS");
    has((c) => c.port === 7000 && c.terminal === tcp && !c.mtls && c.transport === "raw_buffer", "TCP port 7000 plaintext");
    has((c) => c.port === 7080 && c.terminal === http && c.mtls, "HTTP port 7080 over mTLS");
    has((c) => c.port === 7080 && c.terminal === http && !c.mtls, "HTTP port 7080 plaintext");
    has((c) => c.chain === "virtualInbound" && c.terminal === tcp && c.mtls, "TCP passthrough over mTLS");
    has((c) => c.chain === "virtualInbound" && c.terminal === tcp && c.transport === "raw_buffer", "TCP passthrough plaintext");
    has((c) => c.chain === "virtualInbound-catchall-http" && c.terminal === http && c.mtls, "HTTP passthrough over mTLS");
    has((c) => c.chain === "virtualInbound-catchall-http" && c.terminal === http && !c.mtls, "HTTP passthrough plaintext");
  });

  it("the check fails on an EnvoyFilter that only matches tcp_proxy: every HTTP chain is reported", async () => {
    // The EnvoyFilter as it was before HTTP chains were covered: the http_connection_manager patch removed.
    const [doc] = parseAllDocuments(localEnvoyFilter(xdsPort)).map((d) => d.toJS() as { spec: { configPatches: Array<{ match: unknown }> } });
    doc!.spec.configPatches = doc!.spec.configPatches.filter((p) => !JSON.stringify(p.match).includes("http_connection_manager"));
    mesh.istiod.writeConfig("envoyfilter.yaml", stringify(doc));
    try {
      const missing = await waitFor("istiod to push the narrower EnvoyFilter", async () => {
        const m = chainsWithoutPicoseg(await ledger.listeners());
        return m.length > 0 ? m : undefined;
      }, 20_000, 250);
      expect(new Set(missing.map((c) => c.terminal))).toEqual(new Set(["envoy.filters.network.http_connection_manager"]));
      expect(missing.length).toBeGreaterThanOrEqual(4); // port 7080 and the HTTP passthrough, plaintext and mTLS
    } finally {
      mesh.istiod.writeConfig("envoyfilter.yaml", localEnvoyFilter(xdsPort));
    }
    await waitFor("the shipped EnvoyFilter back on every chain", async () =>
      (chainsWithoutPicoseg(await ledger.listeners()).length === 0 ? true : undefined), 20_000, 250);
  });

  it("the overlay changes nothing but the picoseg server's address and port", () => {
    const shipped = readFileSync(join(repoRoot(), "istio-manifests/envoyfilter.yaml"), "utf8").split("\n");
    const local = localEnvoyFilter(xdsPort).split("\n");
    expect(local.length).toBe(shipped.length);
    const changed = shipped.flatMap((line, i) => (line === local[i] ? [] : [[line.trim(), local[i]!.trim()]]));
    expect(changed).toEqual([
      ["socket_address: { address: picoseg-xds.picoseg-system.svc.cluster.local, port_value: 18000 }", `socket_address: { address: 127.0.0.1, port_value: ${xdsPort} }`],
    ]);
  });
});
