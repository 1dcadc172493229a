// The PicoSegment CRD and the xDS server's RBAC on a real kube-apiserver (testkit/kube/
// cluster.ts): the API server itself refuses what the schema forbids, documents every field in
// its OpenAPI v3 document (what `kubectl explain` reads), prints the status columns for
// `kubectl get`, and the server's ServiceAccount can do what the server needs and nothing more.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, KubeCluster, XDS_NAMESPACE } from "../../testkit/kube/cluster.js";
import { parseQuantity } from "../../xds-server/src/policy/index.js";

let cluster: KubeCluster;
let sa: ApiClient;
beforeAll(async () => {
  cluster = await KubeCluster.start();
  sa = new ApiClient(cluster.server, cluster.caPem, await cluster.serviceAccountToken());
  await cluster.admin.ok("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

const SEGMENTS = "/apis/picoseg.io/v1alpha1/namespaces/shop/picosegments";

function segment(name: string, port: number | string): Record<string, unknown> {
  return {
    apiVersion: "picoseg.io/v1alpha1",
    kind: "PicoSegment",
    metadata: { name, namespace: "shop" },
    spec: { selector: { matchLabels: { app: name } }, mode: "audit", rules: [{ name: "r", ports: [port] }] },
  };
}

describe("the PicoSegment CRD on a real API server", () => {
  it("the API server refuses port 70000, naming the field; port 65535 is accepted", async () => {
    const refused = await cluster.admin.request("POST", SEGMENTS, segment("too-high", 70000));
    expect(refused.status).toBe(422);
    expect(refused.body["message"]).toMatch(/spec\.rules\[0\]\.ports\[0\]: Invalid value: 70000: .*less than or equal to 65535/);
    expect((await cluster.admin.request("POST", SEGMENTS, segment("highest", 65535))).status).toBe(201);
    // A string form stays for the server's semantic check (ranges are strings).
    expect((await cluster.admin.request("POST", SEGMENTS, segment("range", "8000-8100"))).status).toBe(201);
  });

  it("an unknown field is refused by strict field validation, not silently dropped", async () => {
    const obj = segment("typo", 80) as { spec: Record<string, unknown> };
    obj.spec["rulez"] = [];
    const r = await cluster.admin.request("POST", `${SEGMENTS}?fieldValidation=Strict`, obj);
    expect(r.status).toBe(400); // strict decoding errors are BadRequest
    expect(r.body["message"]).toContain('unknown field "spec.rulez"');
  });

  it("every field of spec and status is documented in the API's OpenAPI v3 document (what kubectl explain shows)", async () => {
    const doc = await cluster.admin.ok("GET", "/openapi/v3/apis/picoseg.io/v1alpha1");
    const schemas = (doc["components"] as { schemas: Record<string, Record<string, unknown>> }).schemas;
    const name = Object.keys(schemas).find((k) => k.endsWith("picoseg.v1alpha1.PicoSegment"));
    expect(name).toBeDefined();
    const root = schemas[name!]!;
    const undocumented: string[] = [];
    const fields: string[] = [];
    const walk = (node: Record<string, unknown>, path: string): void => {
      fields.push(path);
      if (typeof node["description"] !== "string" || node["description"] === "") undocumented.push(path);
      const props = (node["properties"] ?? {}) as Record<string, Record<string, unknown>>;
      for (const [k, v] of Object.entries(props)) walk(v, `${path}.${k}`);
      if (node["items"]) walk(node["items"] as Record<string, unknown>, `${path}[]`);
      const extra = node["additionalProperties"];
      if (typeof extra === "object" && extra !== null) walk(extra as Record<string, unknown>, `${path}{}`);
    };
    const props = root["properties"] as Record<string, Record<string, unknown>>;
    walk(props["spec"]!, "spec");
    walk(props["status"]!, "status");
    expect(undocumented).toEqual([]);
    // The walk went deep: the limits of a rule and the status conditions are among the fields.
    expect(fields).toContain("spec.rules[].limits.framing.type");
    expect(fields).toContain("spec.rules[].limits.maxBytesIn");
    expect(fields).toContain("status.conditions[].reason");
  });

  it("`kubectl get picosegments` columns: mode, accepted, workloads and age (proxies and ACKed with -o wide)", async () => {
    // kubectl asks for the server-side Table; the columns come from additionalPrinterColumns.
    const table = await cluster.admin.request("GET", SEGMENTS, undefined, undefined, "application/json;as=Table;v=v1;g=meta.k8s.io");
    expect(table.body["kind"]).toBe("Table");
    const r = table.body;
    const columns = (r["columnDefinitions"] as Array<{ name: string; priority: number }>).map((c) => `${c.name}:${c.priority}`);
    expect(columns).toEqual(["Name:0", "Mode:0", "Accepted:0", "Workloads:0", "Proxies:1", "ACKed:1", "Age:0"]);
    const rows = r["rows"] as Array<{ cells: unknown[] }>;
    expect(rows.find((x) => x.cells[0] === "highest")?.cells[1]).toBe("audit");
  });
});

describe("the xDS server's ServiceAccount (RBAC of istio-manifests/xds-server.yaml)", () => {
  it("may list and watch PicoSegments in every namespace and patch their status", async () => {
    expect((await sa.request("GET", "/apis/picoseg.io/v1alpha1/picosegments")).status).toBe(200);
    expect((await sa.request("GET", "/apis/picoseg.io/v1alpha1/picosegments?watch=true&timeoutSeconds=1")).status).toBe(200);
    const patched = await sa.request(
      "PATCH",
      `${SEGMENTS}/highest/status`,
      { status: { observedGeneration: 1 } },
      "application/merge-patch+json",
    );
    expect(patched.status).toBe(200);
    expect((patched.body["status"] as { observedGeneration: number }).observedGeneration).toBe(1);
  });

  it("may create, read, list and renew Leases in picoseg-system", async () => {
    const lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "picoseg-xds-status", namespace: XDS_NAMESPACE }, spec: { holderIdentity: "t" } };
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${XDS_NAMESPACE}/leases`;
    expect((await sa.request("POST", leases, lease)).status).toBe(201);
    const got = await sa.request("GET", `${leases}/picoseg-xds-status`);
    expect(got.status).toBe(200);
    expect((await sa.request("PUT", `${leases}/picoseg-xds-status`, got.body)).status).toBe(200);
    expect((await sa.request("GET", `${leases}?labelSelector=picoseg.io%2Freplica-report%3Dtrue`)).status).toBe(200);
    await cluster.admin.ok("DELETE", `${leases}/picoseg-xds-status`);
  });

  it("is refused what the server must not do: write a spec, delete a segment, read secrets, touch leases elsewhere or delete its own", async () => {
    const forbidden = async (method: string, path: string, body?: unknown, type?: string): Promise<number> => (await sa.request(method, path, body, type)).status;
    expect(await forbidden("POST", SEGMENTS, segment("by-sa", 80))).toBe(403);
    expect(await forbidden("PATCH", `${SEGMENTS}/highest`, { spec: { mode: "enforce" } }, "application/merge-patch+json")).toBe(403);
    expect(await forbidden("DELETE", `${SEGMENTS}/highest`)).toBe(403);
    expect(await forbidden("GET", `${SEGMENTS}/highest`)).toBe(403);
    expect(await forbidden("GET", "/api/v1/secrets")).toBe(403);
    expect(await forbidden("GET", `/api/v1/namespaces/${XDS_NAMESPACE}/secrets`)).toBe(403);
    expect(await forbidden("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases")).toBe(403);
    expect(await forbidden("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "x" }, spec: {} })).toBe(403);
    expect(await forbidden("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${XDS_NAMESPACE}/leases/picoseg-xds-status`)).toBe(403);
    // The refusal is RBAC's, for this ServiceAccount, not a missing object.
    const r = await sa.request("DELETE", `${SEGMENTS}/highest`);
    expect(r.body["message"]).toContain('User "system:serviceaccount:picoseg-system:picoseg-xds" cannot delete resource "picosegments"');
  });
});

// Kubernetes' own Quantity parser (apimachinery, inside kube-apiserver) is the judge of what a
// quantity means: a ResourceQuota's `hard` values come back in their canonical form ("1.5Gi" as
// "1536Mi"), and a string it cannot parse is refused. picoseg must agree on both.
describe("quantities: picoseg reads them as Kubernetes does", () => {
  const quota = (name: string, q: string): Record<string, unknown> => ({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name, namespace: "shop" },
    spec: { hard: { "requests.memory": q } },
  });
  const ACCEPTED = ["65536", "64Ki", "10Mi", "1Gi", "2Ti", "1Pi", "10M", "1G", "500k", "2T", "1P", "1e3", "1E3", "2e+2", "12e-1",
    "1.5Gi", "0.3k", "1.1Ki", "0.1Ki", "500m", "1e-3", ".5", "5.", "+7", "007", "0", "123456789012345",
    "Mi", ".", "-"]; // no digits: zero, as apimachinery reads them
  // (Quantity's JSON decoding trims surrounding spaces before parsing; picoseg, like the grammar
  // and the CRD's pattern, refuses " 1" outright, so it is in neither list.)
  const REFUSED = ["", "1K", "1KB", "10MB", "1 Mi", "1e3Ki", "1e1.5", "0x10", "Infinity", "1mi", "1.5.5", "--1", "1e"];

  it("every quantity Kubernetes accepts has the same number of bytes for picoseg (fractions rounded up, as Value())", async () => {
    for (const [i, q] of ACCEPTED.entries()) {
      const created = await cluster.admin.ok("POST", "/api/v1/namespaces/shop/resourcequotas", quota(`q-${i}`, q));
      const canonical = (created["spec"] as { hard: Record<string, string> }).hard["requests.memory"]!;
      const ours = parseQuantity(q);
      expect(ours, `${q} (Kubernetes: ${canonical})`).toEqual(parseQuantity(canonical));
      expect(ours.ok, q).toBe(true);
    }
    // Spot checks of the canonical forms, so that the comparison above is not vacuous.
    const hard = async (i: number): Promise<string> =>
      ((await cluster.admin.ok("GET", `/api/v1/namespaces/shop/resourcequotas/q-${i}`))["spec"] as { hard: Record<string, string> }).hard["requests.memory"]!;
    expect(await hard(ACCEPTED.indexOf("1.5Gi"))).toBe("1536Mi");
    expect(await hard(ACCEPTED.indexOf("1e3"))).toBe("1e3");
    expect(parseQuantity("1.1Ki")).toEqual({ ok: true, value: 1127 });
  });

  it("every string Kubernetes refuses, picoseg refuses too", async () => {
    for (const [i, q] of REFUSED.entries()) {
      const r = await cluster.admin.request("POST", "/api/v1/namespaces/shop/resourcequotas", quota(`bad-${i}`, q));
      expect(r.status, `Kubernetes on ${JSON.stringify(q)}`).toBeGreaterThanOrEqual(400);
      expect(parseQuantity(q).ok, JSON.stringify(q)).toBe(false);
    }
  });

  it("the CRD carries the grammar: the API server takes 10M and 1.5Gi in a PicoSegment and refuses 10MB, naming the field", async () => {
    const limited = (name: string, q: string): Record<string, unknown> => ({
      ...segment(name, 80),
      spec: { selector: { matchLabels: { app: name } }, rules: [{ name: "r", limits: { maxBytesIn: q, maxBytesOut: "1.5Gi" } }] },
    });
    expect((await cluster.admin.request("POST", SEGMENTS, limited("decimal-si", "10M"))).status).toBe(201);
    const refused = await cluster.admin.request("POST", SEGMENTS, limited("typo", "10MB"));
    expect(refused.status).toBe(422);
    expect(refused.body["message"]).toMatch(/spec\.rules\[0\]\.limits\.maxBytesIn: Invalid value: "10MB": spec\.rules\[0\]\.limits\.maxBytesIn in body should match/);
  });
});
