// Two replicas of `picoseg serve --kubeconfig` on one real API server, one real Envoy reaching them
// through a relay that plays the Service: switched from one replica to the other, the Envoy gets
// the same version (content hash), applies nothing new and keeps its connections. Status is
// written by the Lease holder only, counts the proxies of both replicas, and passes to the other
// replica when the holder is killed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PICOSEG_ECDS_RESOURCE } from "../../xds-server/src/envoy/index.js";
import { TcpClient, XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "./harness/index.js";
import { probeUntil } from "../xds/envoy-probe.js";
import { KubeCluster, XDS_NAMESPACE } from "./k8s/cluster.js";
import { Relay, ServeProcess } from "./k8s/serve.js";

const SEGMENTS = "/apis/picoseg.io/v1alpha1/namespaces/shop/picosegments";
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${XDS_NAMESPACE}/leases/picoseg-xds-status`;
const RELOADS = `extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_reload`;

let cluster: KubeCluster;
let replicas: ServeProcess[] = [];
let relay: Relay;
let sidecar: XdsSidecar;
let listenPort: number;
let otherPort: number;

function db(ports: number[]): Record<string, unknown> {
  return {
    apiVersion: "picoseg.io/v1alpha1",
    kind: "PicoSegment",
    metadata: { name: "db", namespace: "shop" },
    spec: { selector: { matchLabels: { app: "db" } }, rules: [{ name: "local", from: { ipBlocks: ["127.0.0.1/32"] }, ports }] },
  };
}

async function replace(body: Record<string, unknown>): Promise<number> {
  const cur = await cluster.admin.ok("GET", `${SEGMENTS}/db`);
  const rv = (cur["metadata"] as { resourceVersion: string }).resourceVersion;
  const r = await cluster.admin.ok("PUT", `${SEGMENTS}/db`, { ...body, metadata: { ...(body["metadata"] as object), resourceVersion: rv } });
  return (r["metadata"] as { generation: number }).generation;
}

/** The version of the sidecar's resource as a replica holds it, once the sidecar ACKed it there. */
async function ackedOn(r: ServeProcess): Promise<string> {
  return waitFor(`the sidecar's ACK on ${r.id}`, async () => {
    const res = (await r.status()).proxies.find((p) => p.nodeId === "db-0")?.resources[0];
    return res?.current !== undefined && res.acked === res.current ? res.current : undefined;
  }, 10_000, 100);
}

async function holder(): Promise<{ id: string; transitions: number }> {
  const lease = await cluster.admin.ok("GET", LEASE);
  const spec = lease["spec"] as { holderIdentity?: string; leaseTransitions?: number };
  return { id: spec.holderIdentity ?? "", transitions: spec.leaseTransitions ?? 0 };
}

/** Field managers that wrote the segment's status. */
async function statusWriters(): Promise<{ managers: string[]; status: Record<string, unknown>; generation: number }> {
  const o = await cluster.admin.ok("GET", `${SEGMENTS}/db`);
  const md = o["metadata"] as { generation: number; managedFields: Array<{ manager: string; subresource?: string }> };
  return {
    managers: md.managedFields.filter((f) => f.subresource === "status").map((f) => f.manager).sort(),
    status: (o["status"] ?? {}) as Record<string, unknown>,
    generation: md.generation,
  };
}

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await cluster.admin.ok("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
  [listenPort, otherPort] = (await freePorts(2)) as [number, number];
  // History before the replicas start: a create and an update, so generations are not trivial.
  await cluster.admin.ok("POST", SEGMENTS, db([otherPort]));
  await replace(db([listenPort]));
  const kubeconfig = cluster.writeKubeconfig(await cluster.serviceAccountToken(), "picoseg-xds");
  replicas = [await ServeProcess.start(kubeconfig, "replica-a"), await ServeProcess.start(kubeconfig, "replica-b")];
  relay = await Relay.start(replicas[0]!.xdsPort);
  sidecar = await XdsSidecar.start({
    xdsPort: relay.port,
    listenPort,
    api: "DELTA_GRPC",
    node: { id: "db-0", cluster: "db.shop", namespace: "shop", labels: { app: "db" } },
  });
}, 120_000);
afterAll(async () => {
  await sidecar?.stop();
  await relay?.close();
  for (const r of replicas) await r.stop();
  await cluster?.stop();
  await stopAllEnvoys();
});

describe("two replicas of the xDS server on one API server", () => {
  it("an Envoy switched from one replica to the other sees no version change, and no connection is revoked", async () => {
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    await probeUntil(listenPort, "allowed", 5000);
    // An update while both run: each sees it live.
    await replace(db([listenPort, otherPort]));
    await waitFor("the update in the sidecar", async () => ((await sidecar.envoy.adminText("/config_dump?resource=ecds_filters")).includes(`port ${otherPort} ${otherPort}`) ? true : undefined), 5000, 100);
    const onA = await ackedOn(a);
    const live = await TcpClient.connect(listenPort);
    try {
      await live.write("a\n");
      await live.waitForBytes(2);
      const reloads = await sidecar.envoy.counter(RELOADS);
      const decisions = sidecar.envoy.decisions().length;

      relay.switchTo(b.xdsPort);
      const onB = await ackedOn(b);
      expect(onB).toBe(onA); // the content hash covers the generation line: same bytes on both

      expect(await live.staysOpenFor(1500)).toBe(true);
      await live.write("b\n");
      expect((await live.waitForBytes(4)).toString()).toBe("a\nb\n");
      expect(await sidecar.envoy.counter(RELOADS)).toBe(reloads);
      expect(sidecar.envoy.decisions().slice(decisions).filter((d) => d.reason === "revoked")).toEqual([]);
    } finally {
      live.destroy();
    }
  });

  it("status is written by the Lease holder alone, counts proxies on every replica, and passes over when the holder is killed", async () => {
    const first = await waitFor("a Lease holder", async () => {
      const h = await holder();
      return h.id ? h : undefined;
    }, 10_000, 100);
    const leader = replicas.find((r) => r.id === first.id)!;
    const survivor = replicas.find((r) => r.id !== first.id)!;
    // The sidecar on the replica that does not write: the writer counts it from that replica's report.
    if (relay.target !== survivor.xdsPort) relay.switchTo(survivor.xdsPort);
    const before = await waitFor("status counting the sidecar", async () => {
      const w = await statusWriters();
      return w.status["proxiesAcked"] === 1 && w.status["observedGeneration"] === w.generation ? w : undefined;
    }, 10_000, 100);
    expect(before.status).toMatchObject({ proxies: 1, workloads: 1 });
    expect(before.managers).toEqual([`picoseg-${leader.id}`]);

    await leader.kill();
    const generation = await replace(db([listenPort]));
    const after = await waitFor("the survivor's status for the new generation", async () => {
      const w = await statusWriters();
      return w.status["observedGeneration"] === generation && w.status["proxiesAcked"] === 1 ? w : undefined;
    }, 20_000, 200);
    expect(after.managers).toContain(`picoseg-${survivor.id}`);
    const h = await holder();
    expect(h.id).toBe(survivor.id);
    expect(h.transitions).toBe(first.transitions + 1);
    expect(await probeUntil(listenPort, "allowed", 2000)).toBeLessThanOrEqual(2000);
  });
});
