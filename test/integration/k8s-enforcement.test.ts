// PicoSegment custom resources on a real kube-apiserver, served by a real `picoseg serve
// --kubeconfig` (with the ServiceAccount's own token) to a real Envoy sidecar: create, update and
// delete reach enforcement within 2 s; status is written back; a refused update is reported with
// its field while the previous version stays enforced; the API server restarted under traffic.
import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { validatePolicyText } from "../../xds-server/src/policy/index.js";
import { formatPolicyError } from "../../api/status.js";
import { TcpClient, XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { roundTrip, roundTripUntil } from "../../testkit/envoy/round-trip.js";
import { KubeCluster } from "../../testkit/kube/cluster.js";
import { ServeProcess } from "../../testkit/kube/serve.js";

const SEGMENTS = "/apis/picoseg.io/v1alpha1/namespaces/shop/picosegments";

let cluster: KubeCluster;
let serve: ServeProcess;
let sidecar: XdsSidecar;
let listenPort: number;
let otherPort: number;

interface Status {
  observedGeneration?: number;
  appliedGeneration?: number;
  workloads?: number;
  proxies?: number;
  proxiesAcked?: number;
  conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration: number }>;
}

function db(ports: number[], ipBlocks = ["127.0.0.1/32"]): Record<string, unknown> {
  return {
    apiVersion: "picoseg.io/v1alpha1",
    kind: "PicoSegment",
    metadata: { name: "db", namespace: "shop" },
    spec: { selector: { matchLabels: { app: "db" } }, rules: [{ name: "local", from: { ipBlocks }, ports }] },
  };
}

async function object(name: string): Promise<{ generation: number; status: Status; resourceVersion: string }> {
  const o = await cluster.admin.ok("GET", `${SEGMENTS}/${name}`);
  const md = o["metadata"] as { generation: number; resourceVersion: string };
  return { generation: md.generation, resourceVersion: md.resourceVersion, status: (o["status"] ?? {}) as Status };
}

/** Replaces the spec (a PUT, as `kubectl apply` ends up doing); returns the new generation. */
async function replace(body: Record<string, unknown>): Promise<number> {
  const cur = await object("db");
  const put = { ...body, metadata: { ...(body["metadata"] as object), resourceVersion: cur.resourceVersion } };
  const r = await cluster.admin.ok("PUT", `${SEGMENTS}/db`, put);
  return (r["metadata"] as { generation: number }).generation;
}

async function statusWhere(what: string, pred: (s: Status, generation: number) => boolean, ms = 10_000): Promise<Status> {
  return waitFor(what, async () => {
    const o = await object("db");
    return pred(o.status, o.generation) ? o.status : undefined;
  }, ms, 100);
}

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await cluster.admin.ok("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
  const kubeconfig = cluster.writeKubeconfig(await cluster.serviceAccountToken(), "picoseg-xds");
  serve = await ServeProcess.start(kubeconfig, "replica-a");
  [listenPort, otherPort] = (await freePorts(2)) as [number, number];
  sidecar = await XdsSidecar.start({
    xdsPort: serve.xdsPort,
    listenPort,
    api: "DELTA_GRPC",
    node: { id: "db-0", cluster: "db.shop", namespace: "shop", labels: { app: "db" } },
  });
}, 120_000);
afterAll(async () => {
  await sidecar?.stop();
  await serve?.stop();
  await cluster?.stop();
  await stopAllEnvoys();
});

describe("PicoSegments on a real API server, enforced by a real Envoy", () => {
  it("create, update and delete of the resource reach enforcement within 2 s; status says Accepted and counts the proxy", async () => {
    expect(await roundTrip(listenPort)).toBe("denied"); // no segment selects the workload yet

    await cluster.admin.ok("POST", SEGMENTS, db([listenPort]));
    expect(await roundTripUntil(listenPort, "allowed", 2000)).toBeLessThanOrEqual(2000);
    const accepted = await statusWhere("Accepted=True with the proxy ACKed", (s, g) => s.observedGeneration === g && s.proxiesAcked === 1);
    expect(accepted).toMatchObject({ appliedGeneration: 1, workloads: 1, proxies: 1, proxiesAcked: 1 });
    expect(accepted.conditions).toEqual([
      expect.objectContaining({ type: "Accepted", status: "True", reason: "Valid", observedGeneration: 1, message: "generation 1 is in force" }),
    ]);

    await replace(db([otherPort]));
    expect(await roundTripUntil(listenPort, "denied", 2000)).toBeLessThanOrEqual(2000);
    await replace(db([listenPort]));
    expect(await roundTripUntil(listenPort, "allowed", 2000)).toBeLessThanOrEqual(2000);

    await cluster.admin.ok("DELETE", `${SEGMENTS}/db`);
    expect(await roundTripUntil(listenPort, "denied", 2000)).toBeLessThanOrEqual(2000);
    const d = await sidecar.envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === "no-rule");
    expect(d.reason).toBe("no-rule");
  });

  it("a refused update shows Accepted=False naming the field as `picoseg validate` does, and the previous version stays enforced", async () => {
    await cluster.admin.ok("POST", SEGMENTS, db([listenPort]));
    await roundTripUntil(listenPort, "allowed", 2000);
    const good = await statusWhere("generation 1 accepted", (s, g) => s.observedGeneration === g && s.appliedGeneration === g);
    expect(good.conditions?.[0]?.status).toBe("True");

    // The API server's schema cannot see a bad CIDR; the picoseg server refuses it.
    const bad = db([listenPort], ["10.0.0.300/8"]);
    const generation = await replace(bad);
    const refused = await statusWhere("Accepted=False", (s) => s.observedGeneration === generation && s.conditions?.[0]?.status === "False");
    expect(refused.appliedGeneration).toBe(generation - 1);
    const cond = refused.conditions![0]!;
    expect(cond).toMatchObject({ type: "Accepted", reason: "Invalid", observedGeneration: generation });
    // The same document through `picoseg validate`'s checks gives the same field and message.
    const { errors } = validatePolicyText(stringify(bad), "x.yaml");
    expect(errors).toHaveLength(1);
    const fieldAndMessage = formatPolicyError(errors[0]!).replace(/^x\.yaml:\d+: /, "");
    expect(fieldAndMessage).toMatch(/^spec\.rules\[0\]\.from\.ipBlocks\[0\]: /);
    expect(cond.message).toContain(`picosegments/shop/db:`);
    expect(cond.message).toContain(fieldAndMessage);
    expect(cond.message).toContain(`(generation ${generation - 1} stays in force)`);

    // Still enforced: the old version admits, and nothing was pushed.
    expect(await roundTrip(listenPort)).toBe("allowed");
    const st = await serve.status();
    expect(st.refusals.map((r) => r.text)).toEqual([expect.stringContaining("spec.rules[0].from.ipBlocks[0]")]);

    // `kubectl get picosegments` shows it: Accepted False in the server-side table.
    const table = await cluster.admin.request("GET", SEGMENTS, undefined, undefined, "application/json;as=Table;v=v1;g=meta.k8s.io");
    const row = (table.body["rows"] as Array<{ cells: unknown[] }>).find((r) => r.cells[0] === "db");
    expect(row?.cells.slice(1, 4)).toEqual([null, "False", 1]); // mode unset, Accepted, workloads

    await replace(db([listenPort]));
    await statusWhere("Accepted=True again", (s, g) => s.observedGeneration === g && s.conditions?.[0]?.status === "True");
  });

  it("the API server restarted under traffic: the last good state keeps serving, the watch resumes, no admitted connection is cut", async () => {
    await replace(db([listenPort]));
    await roundTripUntil(listenPort, "allowed", 5000);
    const live = await TcpClient.connect(listenPort);
    try {
      await live.write("a\n");
      await live.waitForBytes(2);

      await cluster.stopApiserver();
      // While the API is away: the server stays ready and keeps serving its last good state.
      await waitFor("the server to notice the API is gone", () => (/kubernetes list\/watch failed/.test(serve.log()) ? true : undefined), 10_000, 100);
      expect((await fetch(`${serve.httpUrl}/readyz`)).status).toBe(200);
      expect(await roundTrip(listenPort)).toBe("allowed");
      expect(await live.staysOpenFor(1000)).toBe(true);

      await cluster.startApiserver();
      // A change made after the restart arrives (the watch resumed) and, since it still admits
      // the live connection, cuts nothing.
      await replace(db([listenPort, otherPort]));
      await waitFor("the post-restart version in the sidecar", async () => ((await hasPort(otherPort)) ? true : undefined), 20_000, 200);
      expect(await live.staysOpenFor(1000)).toBe(true);
      await live.write("b\n");
      expect((await live.waitForBytes(4)).toString()).toBe("a\nb\n");

      // And enforcement goes on as before: a change that no longer admits revokes within 2 s.
      await replace(db([otherPort]));
      expect(await roundTripUntil(listenPort, "denied", 2000)).toBeLessThanOrEqual(2000);
      await live.waitForClose(2000);
      await statusWhere("status written after the restart", (st, g) => st.observedGeneration === g && st.proxiesAcked === 1);
    } finally {
      live.destroy();
    }
  });

  // kubectl is an extra reading of what the Table test above already checks through the API.
  const kubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
  it.skipIf(!kubectl)("`kubectl get picosegments -o wide` shows accepted, workloads, proxies and ACKed (needs kubectl on PATH)", async () => {
    await statusWhere("status current", (st, g) => st.observedGeneration === g && st.proxiesAcked === 1);
    const kc = cluster.writeKubeconfig(cluster.admin.token, "admin");
    const out = execFileSync("kubectl", ["--kubeconfig", kc, "get", "picosegments", "-n", "shop", "-o", "wide"], { encoding: "utf8", timeout: 20_000 });
    expect(out.split("\n")[0]).toMatch(/^NAME\s+MODE\s+ACCEPTED\s+WORKLOADS\s+PROXIES\s+ACKED\s+AGE$/);
    expect(out).toMatch(/^db\s+True\s+1\s+1\s+1\s+\S+$/m); // mode unset: its column is blank
  });
});

/** Whether the server's compiled config for the sidecar admits `port` (read from the sidecar's view). */
async function hasPort(port: number): Promise<boolean> {
  const dump = await sidecar.envoy.adminText("/config_dump?resource=ecds_filters");
  return dump.includes(`port ${port} ${port}`);
}
