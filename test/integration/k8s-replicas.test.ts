// Two replicas of `picoseg serve --kubeconfig` on one real API server, real Envoys (one delta, one
// state-of-the-world) reaching them through a relay that plays the Service: switched from one
// replica to the other, each Envoy holds the version the other replica serves (content hash),
// applies nothing new and keeps its connections. Status is
// written by the Lease holder only, counts the proxies of both replicas, and passes to the other
// replica when the holder is killed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PICOSEG_ECDS_RESOURCE } from "../../api/resources.js";
import { TcpClient, XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { roundTripUntil } from "../../testkit/envoy/round-trip.js";
import { KubeCluster, XDS_NAMESPACE } from "../../testkit/kube/cluster.js";
import { Relay, ServeProcess } from "../../testkit/kube/serve.js";

const SEGMENTS = "/apis/picoseg.io/v1alpha1/namespaces/shop/picosegments";
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${XDS_NAMESPACE}/leases/picoseg-xds-status`;
const RELOADS = `extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_reload`;

let cluster: KubeCluster;
let replicas: ServeProcess[] = [];
let relay: Relay;
let sidecar: XdsSidecar; // delta
let sotw: XdsSidecar;
let listenPort: number;
let otherPort: number;
let sotwPort: number;

function db(ports: number[]): Record<string, unknown> {
  return {
    apiVersion: "picoseg.io/v1alpha1",
    kind: "PicoSegment",
    metadata: { name: "db", namespace: "shop" },
    // sotwPort always: the sotw sidecar's listener stays admitted throughout.
    spec: { selector: { matchLabels: { app: "db" } }, rules: [{ name: "local", from: { ipBlocks: ["127.0.0.1/32"] }, ports: [...ports, sotwPort] }] },
  };
}

async function replace(body: Record<string, unknown>): Promise<number> {
  const cur = await cluster.admin.ok("GET", `${SEGMENTS}/db`);
  const rv = (cur["metadata"] as { resourceVersion: string }).resourceVersion;
  const r = await cluster.admin.ok("PUT", `${SEGMENTS}/db`, { ...body, metadata: { ...(body["metadata"] as object), resourceVersion: rv } });
  return (r["metadata"] as { generation: number }).generation;
}

/** The version of a sidecar's resource as a replica holds it, once the sidecar ACKed it there. */
async function ackedOn(r: ServeProcess, node: string): Promise<string> {
  return waitFor(`${node}'s ACK on ${r.id}`, async () => {
    const res = (await r.status()).proxies.find((p) => p.nodeId === node)?.resources[0];
    return res?.current !== undefined && res.acked === res.current ? res.current : undefined;
  }, 10_000, 100);
}

/** The version a replica holds for a sidecar once that sidecar has a stream to it. */
async function currentOn(r: ServeProcess, node: string): Promise<string> {
  return waitFor(`${node} connected to ${r.id}`, async () => {
    const p = (await r.status()).proxies.find((x) => x.nodeId === node);
    return p && p.streams.length === 1 ? p.resources[0]?.current : undefined;
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
  [listenPort, otherPort, sotwPort] = (await freePorts(3)) as [number, number, number];
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
  sotw = await XdsSidecar.start({
    xdsPort: relay.port,
    listenPort: sotwPort,
    api: "GRPC",
    node: { id: "db-1", cluster: "db.shop", namespace: "shop", labels: { app: "db" } },
  });
}, 120_000);
afterAll(async () => {
  await sidecar?.stop();
  await sotw?.stop();
  await relay?.close();
  for (const r of replicas) await r.stop();
  await cluster?.stop();
  await stopAllEnvoys();
});

describe("two replicas of the xDS server on one API server", () => {
  it("Envoys switched from one replica to the other (delta and sotw) see no version change, and no connection is revoked", async () => {
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    await roundTripUntil(listenPort, "allowed", 5000);
    await roundTripUntil(sotwPort, "allowed", 5000);
    // An update while both run: each sees it live.
    await replace(db([listenPort, otherPort]));
    await waitFor("the update in the sidecar", async () => ((await sidecar.envoy.adminText("/config_dump?resource=ecds_filters")).includes(`port ${otherPort} ${otherPort}`) ? true : undefined), 5000, 100);
    const onA = await ackedOn(a, "db-0");
    const sotwOnA = await ackedOn(a, "db-1");
    const live = await TcpClient.connect(listenPort);
    const liveSotw = await TcpClient.connect(sotwPort);
    try {
      await live.write("a\n");
      await liveSotw.write("a\n");
      await live.waitForBytes(2);
      await liveSotw.waitForBytes(2);
      const reloads = await sidecar.envoy.counter(RELOADS);
      const sotwReloads = await sotw.envoy.counter(RELOADS);
      const decisions = sidecar.envoy.decisions().length;
      const sotwDecisions = sotw.envoy.decisions().length;

      relay.switchTo(b.xdsPort);
      // The content hash covers the generation line: the same bytes on both replicas. The delta
      // sidecar says which version it holds, so it shows as ACKed on b at once.
      expect(await ackedOn(b, "db-0")).toBe(onA);
      expect(await currentOn(b, "db-1")).toBe(sotwOnA);

      expect(await live.staysOpenFor(1500)).toBe(true);
      expect(liveSotw.isOpen()).toBe(true);
      await live.write("b\n");
      await liveSotw.write("b\n");
      expect((await live.waitForBytes(4)).toString()).toBe("a\nb\n");
      expect((await liveSotw.waitForBytes(4)).toString()).toBe("a\nb\n");
      // Nothing was applied: b had nothing newer to send.
      expect(await sidecar.envoy.counter(RELOADS)).toBe(reloads);
      expect(await sotw.envoy.counter(RELOADS)).toBe(sotwReloads);
      expect(sidecar.envoy.decisions().slice(decisions).filter((d) => d.reason === "revoked")).toEqual([]);
      expect(sotw.envoy.decisions().slice(sotwDecisions).filter((d) => d.reason === "revoked")).toEqual([]);
    } finally {
      live.destroy();
      liveSotw.destroy();
    }
  });

  it("status is written by the Lease holder alone, counts proxies on every replica, and passes over when the holder is killed", async () => {
    const first = await waitFor("a Lease holder", async () => {
      const h = await holder();
      return h.id ? h : undefined;
    }, 10_000, 100);
    const leader = replicas.find((r) => r.id === first.id)!;
    const survivor = replicas.find((r) => r.id !== first.id)!;
    // The sidecars on the replica that does not write: the writer counts them from that replica's
    // report. There the delta one shows as ACKed (it said which version it holds); the sotw one
    // not yet: sotw names no per-resource version when it reconnects, and nothing was resent.
    if (relay.target !== survivor.xdsPort) relay.switchTo(survivor.xdsPort);
    const before = await waitFor("status counting both sidecars", async () => {
      const w = await statusWriters();
      return w.status["proxies"] === 2 && w.status["proxiesAcked"] === 1 && w.status["observedGeneration"] === w.generation ? w : undefined;
    }, 10_000, 100);
    expect(before.status).toMatchObject({ proxies: 2, proxiesAcked: 1, workloads: 1 });
    expect(before.managers).toEqual([`picoseg-${leader.id}`]);

    await leader.kill();
    const generation = await replace(db([listenPort]));
    const after = await waitFor("the survivor's status for the new generation", async () => {
      const w = await statusWriters();
      // The new generation is pushed to both sidecars, and both ACK it.
      return w.status["observedGeneration"] === generation && w.status["proxiesAcked"] === 2 ? w : undefined;
    }, 20_000, 200);
    expect(after.managers).toContain(`picoseg-${survivor.id}`);
    const h = await holder();
    expect(h.id).toBe(survivor.id);
    expect(h.transitions).toBe(first.transitions + 1);
    expect(await roundTripUntil(listenPort, "allowed", 2000)).toBeLessThanOrEqual(2000);
  });
});
