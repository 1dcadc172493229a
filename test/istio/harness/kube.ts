// The Kubernetes API that istiod needs: this Istio version cannot start without one (its
// ServiceEntry registry reads namespaces from the config cluster; with --registries '' it panics
// in multicluster.(*Controller).ConfigCluster). etcd and kube-apiserver are the real ones,
// built by scripts/install-kube.sh, on 127.0.0.1 with free ports; the admin authenticates with a
// static token. Istio's own configuration still comes from files (istiod --configDir).
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopProcess } from "../../../xds-server/src/util/process.js";
import { waitFor } from "../../../xds-server/src/util/wait.js";
import { freePorts } from "../../integration/harness/ports.js";

export class KubeApi {
  private constructor(
    readonly dir: string,
    readonly url: string,
    readonly token: string,
    /** A kubeconfig file for the admin (what istiod is given). */
    readonly kubeconfig: string,
    private readonly procs: ChildProcess[],
  ) {}

  static async start(bin: string): Promise<KubeApi> {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-kube-"));
    const [etcdClient, etcdPeer, apiPort] = (await freePorts(3)) as [number, number, number];
    const token = randomBytes(16).toString("hex");
    writeFileSync(join(dir, "tokens.csv"), `${token},admin,admin,system:masters\n`);
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
    writeFileSync(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const procs: ChildProcess[] = [];
    const logs: string[] = [];
    const run = (cmd: string, args: string[]): ChildProcess => {
      const p = spawn(join(bin, cmd), args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      p.stderr?.on("data", (d: Buffer) => logs.push(d.toString("utf8")));
      procs.push(p);
      return p;
    };
    run("etcd", [
      "--data-dir", join(dir, "etcd"), "--listen-client-urls", etcdUrl, "--advertise-client-urls", etcdUrl,
      "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", `default=${peerUrl}`,
    ]);
    run("kube-apiserver", [
      "--etcd-servers", etcdUrl,
      "--bind-address", "127.0.0.1", "--secure-port", String(apiPort),
      // A loopback advertise address needs the endpoint reconciler off (nothing reaches it from a pod).
      "--advertise-address", "127.0.0.1", "--endpoint-reconciler-type", "none",
      "--cert-dir", join(dir, "certs"),
      "--token-auth-file", join(dir, "tokens.csv"),
      "--authorization-mode", "RBAC",
      "--service-account-issuer", "https://kubernetes.default.svc",
      "--service-account-key-file", join(dir, "sa.pub"),
      "--service-account-signing-key-file", join(dir, "sa.key"),
      "--service-cluster-ip-range", "10.96.0.0/16",
    ]);
    const url = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, [
      "apiVersion: v1", "kind: Config",
      `clusters: [{name: local, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]`,
      `users: [{name: admin, user: {token: ${token}}}]`,
      "contexts: [{name: local, context: {cluster: local, user: admin}}]",
      "current-context: local", "",
    ].join("\n"));
    const api = new KubeApi(dir, url, token, kubeconfig, procs);
    try {
      await waitFor("kube-apiserver /readyz", async () => {
        for (const p of procs) if (p.exitCode !== null) throw new Error(`${p.spawnfile} exited\n${logs.join("").slice(-3000)}`);
        return (await api.request("GET", "/readyz").catch(() => undefined))?.status === 200 ? true : undefined;
      }, 60_000, 250);
    } catch (err) {
      await api.stop();
      throw err;
    }
    return api;
  }

  /** One API call as the admin. The serving certificate is self-signed: the test trusts its own server. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(`${this.url}${path}`, {
        method,
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
        timeout: 10_000,
      }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  async createNamespace(name: string): Promise<void> {
    const r = await this.request("POST", "/api/v1/namespaces", { metadata: { name } });
    if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${name}: ${r.status} ${r.text}`);
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) await stopProcess(p, 5000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
