// A real Kubernetes control plane for the k8s-* tests: etcd and kube-apiserver (built by
// scripts/install-kube.sh) on 127.0.0.1 with free ports, a temp data dir, a self-signed serving
// certificate, a static admin token, service-account token signing, and the RBAC authorizer on.
// It installs istio-manifests/crd.yaml and the objects of istio-manifests/xds-server.yaml, and
// hands out real service-account tokens (TokenRequest). Nothing here imitates the API server.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { createCa, issueCertificate } from "../../xds-server/src/demo/pki.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { waitFor } from "../../xds-server/src/util/wait.js";
import { freePorts } from "../envoy/ports.js";
import { reap } from "./reaper.js";

export const XDS_NAMESPACE = "picoseg-system";
export const XDS_SERVICE_ACCOUNT = "picoseg-xds";

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** A bare HTTPS client for the API with one bearer token (what the tests assert on is the API's own answer). */
export class ApiClient {
  constructor(
    readonly server: string,
    readonly caPem: string,
    readonly token: string,
  ) {}

  request(method: string, path: string, body?: unknown, contentType = "application/json", accept = "application/json"): Promise<ApiResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          ca: this.caPem,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept,
            ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
          },
          timeout: 10_000,
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => {
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              // not JSON (e.g. /readyz's "ok"): keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<Record<string, unknown>> {
    const r = await this.request(method, path, body, contentType);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
    return r.body;
  }
}

/** The API path of a namespaced or cluster-scoped object's collection. */
export function collectionPath(obj: { apiVersion: string; kind: string; metadata: { namespace?: string } }): string {
  const plural: Record<string, string> = {
    Namespace: "namespaces",
    ServiceAccount: "serviceaccounts",
    ClusterRole: "clusterroles",
    ClusterRoleBinding: "clusterrolebindings",
    Role: "roles",
    RoleBinding: "rolebindings",
    ConfigMap: "configmaps",
    Deployment: "deployments",
    StatefulSet: "statefulsets",
    Service: "services",
    PodDisruptionBudget: "poddisruptionbudgets",
    CustomResourceDefinition: "customresourcedefinitions",
    PicoSegment: "picosegments",
  };
  const p = plural[obj.kind];
  if (!p) throw new Error(`cluster: no API path known for kind ${obj.kind}`);
  const base = obj.apiVersion === "v1" ? "/api/v1" : `/apis/${obj.apiVersion}`;
  return obj.metadata.namespace ? `${base}/namespaces/${obj.metadata.namespace}/${p}` : `${base}/${p}`;
}

/** The kube bin folder install-kube.sh prints (global-setup runs it once per test run). */
export function kubeBinDir(): string {
  const dir = process.env["PICOSEG_KUBE_BIN"];
  if (!dir) throw new Error("PICOSEG_KUBE_BIN is not set: the integration project's global setup (testkit/kube/global-setup.ts) runs scripts/install-kube.sh");
  return dir;
}

export class KubeCluster {
  private etcd: ChildProcess | undefined;
  private apiserver: ChildProcess | undefined;
  private logs: string[] = [];
  readonly admin: ApiClient;

  private constructor(
    readonly dir: string,
    readonly server: string,
    readonly caPem: string,
    private readonly etcdArgs: string[],
    private readonly apiserverArgs: string[],
    adminToken: string,
  ) {
    this.admin = new ApiClient(server, caPem, adminToken);
  }

  /** Starts etcd and kube-apiserver, waits for /readyz, installs the CRD and the xDS server's objects. */
  static async start(): Promise<KubeCluster> {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-k8s-"));
    const [etcdClient, etcdPeer, securePort] = (await freePorts(3)) as [number, number, number];
    const ca = createCa("picoseg test cluster CA", 24);
    const serving = issueCertificate(ca, { commonName: "kube-apiserver", ips: ["127.0.0.1"], dnsNames: ["localhost"], usage: "server", validHours: 24 });
    writeFileSync(join(dir, "ca.crt"), ca.certPem);
    writeFileSync(join(dir, "serving.crt"), serving.certPem);
    writeFileSync(join(dir, "serving.key"), serving.keyPem);
    const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }).toString());
    writeFileSync(join(dir, "sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }).toString());
    const adminToken = randomBytes(24).toString("hex");
    // token,user,uid,"groups": the admin is in system:masters (RBAC's superuser group).
    writeFileSync(join(dir, "tokens.csv"), `${adminToken},admin,admin-uid,"system:masters"\n`);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcdArgs = [
      "--name=picoseg-test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=picoseg-test=${peerUrl}`,
      "--log-level=warn",
      // A throwaway data dir: durability costs fsyncs a shared 2-core machine cannot spare.
      "--unsafe-no-fsync",
    ];
    const issuer = "https://kubernetes.default.svc.cluster.local";
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${securePort}`,
      `--tls-cert-file=${join(dir, "serving.crt")}`,
      `--tls-private-key-file=${join(dir, "serving.key")}`,
      `--cert-dir=${join(dir, "certs")}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${issuer}`,
      `--api-audiences=${issuer}`,
      `--service-account-key-file=${join(dir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(dir, "sa.key")}`,
      "--service-cluster-ip-range=10.96.0.0/24",
      "--endpoint-reconciler-type=none",
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      "--v=0",
    ];
    const cluster = new KubeCluster(dir, `https://127.0.0.1:${securePort}`, ca.certPem, etcdArgs, apiserverArgs, adminToken);
    try {
      await cluster.startEtcd(etcdUrl);
      await cluster.startApiserver();
      await cluster.install();
    } catch (err) {
      const tail = cluster.logs.slice(-30).join("");
      await cluster.stop();
      throw new Error(`${(err as Error).message}\n--- control plane log tail ---\n${tail}`);
    }
    return cluster;
  }

  private spawnLogged(bin: string, args: string[]): ChildProcess {
    const child = reap(spawn(join(kubeBinDir(), bin), args, { stdio: ["ignore", "pipe", "pipe"] }));
    const keep = (b: Buffer): void => {
      this.logs.push(`[${bin}] ${b.toString()}`);
      if (this.logs.length > 400) this.logs.splice(0, 200);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return child;
  }

  private async startEtcd(url: string): Promise<void> {
    const etcd = (this.etcd = this.spawnLogged("etcd", this.etcdArgs));
    await waitFor(
      "etcd /health",
      async () => {
        if (etcd.exitCode !== null) throw new Error(`etcd exited with ${etcd.exitCode}`);
        const r = await fetch(`${url}/health`);
        return r.ok && ((await r.json()) as { health?: string }).health === "true" ? true : undefined;
      },
      30_000,
      100,
    );
  }

  /** Starts (or restarts) kube-apiserver on the same port and data; resolves once /readyz says ok. */
  async startApiserver(): Promise<void> {
    const api = (this.apiserver = this.spawnLogged("kube-apiserver", this.apiserverArgs));
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        if (api.exitCode !== null) throw new Error(`kube-apiserver exited with ${api.exitCode}`);
        const r = await this.admin.request("GET", "/readyz");
        return r.status === 200 ? true : undefined;
      },
      60_000,
      200,
    );
  }

  async stopApiserver(): Promise<void> {
    if (this.apiserver) await stopProcess(this.apiserver, 5000);
    this.apiserver = undefined;
  }

  /** The CRD, established; then every object of istio-manifests/xds-server.yaml (namespace first). */
  private async install(): Promise<void> {
    const crd = parseAllDocuments(readFileSync(join(repoRoot(), "istio-manifests", "crd.yaml"), "utf8"))[0]!.toJS() as KubeObject;
    await this.apply(crd);
    await waitFor(
      "the PicoSegment CRD to be Established",
      async () => {
        const got = await this.admin.ok("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
        const conds = ((got["status"] as { conditions?: Array<{ type: string; status: string }> }).conditions ?? []);
        return conds.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      30_000,
      100,
    );
    // Discovery of the new group lags Established by a moment: wait until the collection answers.
    await waitFor("the picosegments collection", async () => ((await this.admin.request("GET", "/apis/picoseg.io/v1alpha1/picosegments")).status === 200 ? true : undefined), 30_000, 100);
    const objects = parseAllDocuments(readFileSync(join(repoRoot(), "istio-manifests", "xds-server.yaml"), "utf8")).map((d) => d.toJS() as KubeObject);
    for (const o of objects.filter((x) => x.kind === "Namespace")) await this.apply(o);
    for (const o of objects.filter((x) => x.kind !== "Namespace")) await this.apply(o);
  }

  /** Creates an object as the admin; strict field validation, so a manifest typo fails here. */
  async apply(obj: KubeObject): Promise<Record<string, unknown>> {
    return this.admin.ok("POST", `${collectionPath(obj)}?fieldValidation=Strict`, obj);
  }

  /** A real token of a service account (TokenRequest), valid for an hour. */
  async serviceAccountToken(namespace = XDS_NAMESPACE, name = XDS_SERVICE_ACCOUNT): Promise<string> {
    const r = await this.admin.ok("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    return (r["status"] as { token: string }).token;
  }

  /** A kubeconfig file for a token (what `picoseg serve --kubeconfig` reads). */
  writeKubeconfig(token: string, name: string): string {
    const file = join(this.dir, `${name}.kubeconfig`);
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "test", cluster: { server: this.server, "certificate-authority-data": Buffer.from(this.caPem).toString("base64") } }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: "test", user: name } }],
        "current-context": name,
      }),
    );
    return file;
  }

  async stop(): Promise<void> {
    await this.stopApiserver();
    if (this.etcd) await stopProcess(this.etcd, 5000);
    this.etcd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}
