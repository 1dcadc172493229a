// The CLI finds the server from the kube context, as istioctl finds istiod, against the real
// kube-apiserver: the server's pods by the chart's labels, its HTTP side through the API server's
// service proxy, its admin token from the chart's Secret when the caller's RBAC allows it.
//
// No kubelet runs here, so what the chart would make is made by hand, as the control plane would
// record it: a Pod with the chart's labels whose status carries the server's address, the Service
// picoseg-xds with its port `http`, the EndpointSlice that points at the pod, and the Secret. The API
// server refuses to proxy to loopback, so the real `picoseg serve` listens on 10.99.0.1, an
// address of this test's own network namespace (scripts/netns.sh; the istio project runs in it).
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServeCommand, PICOSEG_CLI } from "../../testkit/cli/index.js";
import { KubeCluster, XDS_NAMESPACE } from "../../testkit/kube/cluster.js";
import { ADMIN_TOKEN_SECRET, SERVER_POD_LABELS, SERVER_SERVICE } from "../../api/chart.js";
import type { StatusReport } from "../../api/status.js";

const run = promisify(execFile);
const ADDRESS = "10.99.0.1"; // not loopback: the API server proxies only to pod addresses
const ADMIN_TOKEN = "s3cret-admin-token-of-the-chart";

let cluster: KubeCluster;
let serve: ServeCommand;
let dir = "";
const kubeconfigs: Record<string, string> = {};

const picoseg = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
  run(process.execPath, [...PICOSEG_CLI, ...args], { env: { ...process.env, KUBECONFIG: "", HOME: dir } });

beforeAll(async () => {
  if (process.env["PICOSEG_NETNS"] !== "1") throw new Error("run inside the tests' network namespace: npm run test:istio");
  execFileSync("ip", ["addr", "replace", `${ADDRESS}/32`, "dev", "lo"]);
  dir = mkdtempSync(path.join(tmpdir(), "picoseg-kubectx-"));
  writeFileSync(path.join(dir, "token"), ADMIN_TOKEN);
  writeFileSync(path.join(dir, "db.yaml"), [
    "apiVersion: picoseg.io/v1alpha1", "kind: PicoSegment", "metadata: { name: db, namespace: shop }",
    "spec:", "  selector: { matchLabels: { app: db } }", "  rules:", "    - { name: api, ports: [5432] }", "",
  ].join("\n"));
  serve = await ServeCommand.start(["--policies", dir, "--listen", ADDRESS, "--xds-port", "0", "--http-port", "0", "--admin-token-file", path.join(dir, "token")]);
  const httpPort = Number(new URL(serve.http).port);

  cluster = await KubeCluster.start();
  const ns = XDS_NAMESPACE;
  const admin = cluster.admin;
  // What the chart makes (issue 19's contract): the Service, its pods' labels, the Secret.
  await admin.request("DELETE", `/api/v1/namespaces/${ns}/services/${SERVER_SERVICE}`);
  await admin.ok("POST", `/api/v1/namespaces/${ns}/services`, {
    apiVersion: "v1", kind: "Service", metadata: { name: SERVER_SERVICE, namespace: ns },
    spec: { selector: SERVER_POD_LABELS, ports: [{ name: "grpc-xds", port: 18000 }, { name: "http", port: 18080, targetPort: httpPort }] },
  });
  await admin.ok("POST", `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: "v1", kind: "Secret", metadata: { name: ADMIN_TOKEN_SECRET, namespace: ns }, stringData: { token: ADMIN_TOKEN },
  });
  await admin.ok("POST", `/api/v1/namespaces/${ns}/pods`, {
    apiVersion: "v1", kind: "Pod", metadata: { name: "picoseg-xds-0", namespace: ns, labels: { ...SERVER_POD_LABELS, "app.kubernetes.io/instance": "picoseg" } },
    spec: { serviceAccountName: "picoseg-xds", automountServiceAccountToken: false, containers: [{ name: "xds", image: "picoseg:test", args: ["serve", "--kubernetes"] }] },
  });
  // The kubelet's part: the pod runs at ADDRESS and is ready.
  await admin.ok("PATCH", `/api/v1/namespaces/${ns}/pods/picoseg-xds-0/status`, {
    status: { phase: "Running", podIP: ADDRESS, podIPs: [{ ip: ADDRESS }], conditions: [{ type: "Ready", status: "True" }] },
  }, "application/merge-patch+json");
  // The EndpointSlice controller's part.
  await admin.ok("POST", `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
    metadata: { name: `${SERVER_SERVICE}-1`, namespace: ns, labels: { "kubernetes.io/service-name": SERVER_SERVICE } },
    addressType: "IPv4",
    endpoints: [{ addresses: [ADDRESS], conditions: { ready: true }, targetRef: { kind: "Pod", name: "picoseg-xds-0", namespace: ns } }],
    ports: [{ name: "http", port: httpPort, protocol: "TCP" }],
  });

  // Two operators: one may read the admin token's Secret, one may not; both may find and reach the server.
  const role = (name: string, secrets: boolean): Record<string, unknown> => ({
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace: ns },
    rules: [
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      { apiGroups: [""], resources: ["services/proxy"], resourceNames: [SERVER_SERVICE, `http:${SERVER_SERVICE}:http`], verbs: ["get"] },
      ...(secrets ? [{ apiGroups: [""], resources: ["secrets"], resourceNames: [ADMIN_TOKEN_SECRET], verbs: ["get"] }] : []),
    ],
  });
  for (const [name, secrets] of [["operator", true], ["viewer", false]] as const) {
    await admin.ok("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns } });
    await admin.ok("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, role(name, secrets));
    await admin.ok("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name, namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    });
    kubeconfigs[name] = cluster.writeKubeconfig(await cluster.serviceAccountToken(ns, name), name);
  }
}, 180_000);

afterAll(async () => {
  await serve?.stop("SIGKILL");
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("picoseg status from the kube context", () => {
  it("finds the server by the chart's labels, reaches it through the API server, with the admin token from the Secret", async () => {
    const { stdout, stderr } = await picoseg("status", "--kubeconfig", kubeconfigs["operator"]!, "-o", "json");
    expect(stderr).toBe("");
    const report = JSON.parse(stdout) as StatusReport;
    const direct = (await (await fetch(`${serve.http}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as StatusReport;
    expect(report.controlPlane).toBe(direct.controlPlane);
    expect(report.segments).toEqual(["shop/db"]);
    // The table too, and learn's path (/observations) through the same connection.
    expect((await picoseg("status", "--kubeconfig", kubeconfigs["operator"]!)).stdout).toMatch(/ready · dir:.* 1 segment\(s\) · 0\s+proxy\(ies\)/);
    const learned = await picoseg("what-if", "--kubeconfig", kubeconfigs["operator"]!, "--policies", dir, "--workload", "shop/db", "-o", "json");
    expect(JSON.parse(learned.stdout)).toMatchObject({ workload: "shop/db", connections: 0 });
  }, 60_000);

  it("a caller who may not read the Secret is told so; the server then refuses it, and --token-file opens it", async () => {
    const refused = picoseg("status", "--kubeconfig", kubeconfigs["viewer"]!);
    await expect(refused).rejects.toMatchObject({
      stderr: expect.stringMatching(new RegExp(`cannot read Secret ${XDS_NAMESPACE}/${ADMIN_TOKEN_SECRET}: HTTP 403: .*forbidden[\\s\\S]*HTTP 401`)),
    });
    const { stdout } = await picoseg("status", "--kubeconfig", kubeconfigs["viewer"]!, "--token-file", path.join(dir, "token"), "-o", "json");
    expect((JSON.parse(stdout) as StatusReport).segments).toEqual(["shop/db"]);
  }, 60_000);

  it("--context picks a context of the kubeconfig; the current one is the default; a wrong namespace finds no server", async () => {
    // One kubeconfig with both users, the viewer current.
    const both = path.join(dir, "both.kubeconfig");
    const read = (f: string): { users: unknown[]; contexts: unknown[] } & Record<string, unknown> => JSON.parse(execFileSync("cat", [f], { encoding: "utf8" })) as never;
    const op = read(kubeconfigs["operator"]!);
    const viewer = read(kubeconfigs["viewer"]!);
    writeFileSync(both, JSON.stringify({ ...viewer, users: [...op.users, ...viewer.users], contexts: [...op.contexts, ...viewer.contexts], "current-context": "viewer" }));
    await expect(picoseg("status", "--kubeconfig", both)).rejects.toMatchObject({ stderr: expect.stringMatching(/HTTP 401/) });
    expect(JSON.parse((await picoseg("status", "--kubeconfig", both, "--context", "operator", "-o", "json")).stdout)).toMatchObject({ segments: ["shop/db"] });
    // KUBECONFIG, as kubectl reads it, when no flag names one.
    const viaEnv = await run(process.execPath, [...PICOSEG_CLI, "status", "--context", "operator", "-o", "json"], { env: { ...process.env, KUBECONFIG: both, HOME: dir } });
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ segments: ["shop/db"] });
    await expect(picoseg("status", "--kubeconfig", both, "--context", "nope")).rejects.toMatchObject({ stderr: expect.stringMatching(/no context "nope"/) });
    await expect(picoseg("status", "--kubeconfig", kubeconfigs["operator"]!, "--server-namespace", "default")).rejects.toMatchObject({
      stderr: expect.stringMatching(/no picoseg server in default|cannot list the picoseg server's pods in default/),
    });
  }, 60_000);
});
