// An Istio sidecar as Istio runs one: pilot-agent (built from the pinned Istio module) renders
// Envoy's bootstrap from Istio's template — node id sidecar~IP~POD.NS~NS.svc.cluster.local and the
// node metadata LABELS, NAMESPACE, SERVICE_ACCOUNT, WORKLOAD_NAME, ANNOTATIONS, INTERCEPTION_MODE
// — starts the installed Envoy, proxies its xDS to istiod and serves it the workload certificate
// over SDS. The pod is a folder: the files Kubernetes would mount (the downward API's labels and
// annotations, the workload certificate as an external CA would write it) at the relative paths
// pilot-agent reads from its working directory.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envoyBinaryPath } from "../../xds-server/src/bootstrap/index.js";
import { issueCertificate, type CertificateAuthority } from "../../xds-server/src/demo/pki.js";
import { waitFor } from "../../xds-server/src/util/wait.js";
import { Envoy } from "../envoy/envoy.js";

export interface Workload {
  /** The pod's name (POD_NAME) and its address (INSTANCE_IP, a loopback address of its own). */
  pod: string;
  ip: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SidecarOptions {
  istioBin: string;
  istiodAddress: string;
  ca: CertificateAuthority;
  /** NONE binds each Sidecar ingress port itself; REDIRECT expects iptables to bring traffic to 15006. */
  interception: "NONE" | "REDIRECT";
}

const ADMIN_PORT = 15000; // Istio's well-known ports: the tests run in a network namespace of their own

/** Kubernetes' downward API file format: key="value" per line. */
const downward = (m: Record<string, string>): string => Object.entries(m).map(([k, v]) => `${k}=${JSON.stringify(v)}\n`).join("");

export class IstioSidecar {
  private constructor(
    readonly dir: string,
    readonly workload: Workload,
    readonly envoy: Envoy,
    private readonly agent: ChildProcess,
  ) {}

  get principal(): string {
    return spiffeId(this.workload.namespace, this.workload.serviceAccount);
  }

  static async start(w: Workload, o: SidecarOptions): Promise<IstioSidecar> {
    const dir = mkdtempSync(join(tmpdir(), `picoseg-pod-${w.pod}-`));
    const creds = join(dir, "var/run/secrets/workload-spiffe-credentials");
    mkdirSync(creds, { recursive: true });
    const cert = issueCertificate(o.ca, { commonName: w.pod, uris: [spiffeId(w.namespace, w.serviceAccount)], usage: "workload" });
    writeFileSync(join(creds, "cert-chain.pem"), cert.certPem);
    writeFileSync(join(creds, "key.pem"), cert.keyPem);
    writeFileSync(join(creds, "root-cert.pem"), o.ca.certPem);
    mkdirSync(join(dir, "etc/istio/pod"), { recursive: true });
    mkdirSync(join(dir, "etc/istio/proxy"), { recursive: true });
    writeFileSync(join(dir, "etc/istio/pod/labels"), downward(w.labels));
    writeFileSync(join(dir, "etc/istio/pod/annotations"), downward(w.annotations ?? {}));
    const proxyConfig = {
      discoveryAddress: o.istiodAddress,
      controlPlaneAuthPolicy: "NONE", // istiod's plaintext port; the sidecar's own mTLS is unaffected
      binaryPath: envoyBinaryPath(),
      configPath: join(dir, "etc/istio/proxy"),
      proxyAdminPort: ADMIN_PORT,
      concurrency: 2,
      terminationDrainDuration: "1s",
    };
    const agent = spawn(join(o.istioBin, "pilot-agent"), [
      "proxy", "sidecar",
      "--templateFile", join(o.istioBin, "../envoy_bootstrap.json"),
      "--meshConfig", join(dir, "etc/istio/config/mesh"), // absent: Istio's defaults, then PROXY_CONFIG
      "--proxyLogLevel", "warning", // the filter's decision lines are warnings
    ], {
      cwd: dir,
      detached: true, // its own process group: stop() ends the agent and the Envoy it started together
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        POD_NAME: w.pod,
        POD_NAMESPACE: w.namespace,
        INSTANCE_IP: w.ip,
        SERVICE_ACCOUNT: w.serviceAccount,
        ISTIO_META_WORKLOAD_NAME: w.labels["app"] ?? w.pod,
        ISTIO_META_CLUSTER_ID: "Kubernetes",
        ISTIO_META_INTERCEPTION_MODE: o.interception,
        PROXY_CONFIG: JSON.stringify(proxyConfig),
      },
    });
    groups.add(agent);
    agent.once("exit", () => groups.delete(agent));
    const envoy = Envoy.adopt(agent, `http://127.0.0.1:${ADMIN_PORT}`);
    const sidecar = new IstioSidecar(dir, w, envoy, agent);
    try {
      await waitFor("the sidecar's Envoy admin", async () => {
        if (agent.exitCode !== null) throw new Error(`pilot-agent exited\n${envoy.log().slice(-4000)}`);
        const r = await fetch(`${envoy.adminUrl}/server_info`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
        return r?.ok ? true : undefined;
      }, 30_000, 100);
    } catch (err) {
      await sidecar.stop();
      throw err;
    }
    return sidecar;
  }

  /** Envoy's dynamic listeners as istiod programmed them (active and warming). */
  async listeners(): Promise<DumpedListener[]> {
    const text = await this.envoy.adminText("/config_dump?resource=dynamic_listeners");
    const dump = JSON.parse(text) as { configs?: Array<{ active_state?: { listener: DumpedListener }; warming_state?: { listener: DumpedListener } }> };
    return (dump.configs ?? []).flatMap((c) => {
      const l = c.active_state?.listener ?? c.warming_state?.listener;
      return l ? [{ ...l, warming: c.active_state === undefined }] : [];
    });
  }

  async stop(): Promise<void> {
    await killGroup(this.agent);
    await this.envoy.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface DumpedListener {
  name: string;
  warming: boolean;
  traffic_direction?: string;
  address?: { socket_address?: { address: string; port_value: number } };
  filter_chains?: Array<{
    name?: string;
    filter_chain_match?: { destination_port?: number; transport_protocol?: string; application_protocols?: string[] };
    filters: Array<{ name: string }>;
    transport_socket?: { name: string };
  }>;
}

export function spiffeId(namespace: string, serviceAccount: string): string {
  return `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;
}

const groups = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of groups) if (p.pid !== undefined) try { process.kill(-p.pid, "SIGKILL"); } catch { /* gone */ }
});

/** SIGTERM to the agent's whole process group (agent and Envoy), SIGKILL after 5 s. */
async function killGroup(p: ChildProcess): Promise<void> {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once("exit", () => r()));
  const signal = (s: NodeJS.Signals): void => {
    try { process.kill(-p.pid!, s); } catch { /* already gone */ }
  };
  signal("SIGTERM");
  const timer = new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref());
  if (!(await Promise.race([gone.then(() => true), timer]))) signal("SIGKILL");
  await Promise.race([gone, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
  signal("SIGKILL"); // an Envoy the agent left behind
}
