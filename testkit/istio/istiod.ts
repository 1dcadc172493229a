// A real istiod (pilot-discovery built by scripts/install-istio.sh) whose Istio configuration is a
// directory of files (--configDir: EnvoyFilter, Sidecar, ServiceEntry, WorkloadEntry,
// AuthorizationPolicy, ...) and whose Kubernetes registry is a real kube-apiserver: this Istio
// cannot start without one (with --registries '' pilot-discovery panics in
// multicluster.(*Controller).ConfigCluster, which its ServiceEntry registry needs).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { waitFor } from "../../xds-server/src/util/wait.js";
import { freePorts } from "../envoy/ports.js";
import type { KubeCluster } from "../kube/cluster.js";

/**
 * What this local istiod does differently from one in a cluster, and why (istio-manifests/README.md):
 * the sidecars run the upstream Envoy the project installs, not Istio's own build of it, so istiod
 * must not emit the three filters only Istio's build has (metadata exchange, ALPN override, stats).
 * And workload certificates come from files (as with an external CA), so istiod runs no CA.
 */
const UPSTREAM_ENVOY_ENV = {
  PILOT_ENABLE_METADATA_EXCHANGE: "false",
  PILOT_ENABLE_ALPN_FILTER: "false",
  ENABLE_CA_SERVER: "false",
};
const MESH_CONFIG = ["trustDomain: cluster.local", "defaultProviders:", "  metrics: []", ""].join("\n");

export class Istiod {
  private logText = "";
  private constructor(
    readonly dir: string,
    readonly configDir: string,
    private readonly child: ChildProcess,
    /** Plaintext xDS (what a sidecar's controlPlaneAuthPolicy NONE dials). */
    readonly grpcAddress: string,
    readonly httpUrl: string,
  ) {
    child.stdout?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    child.stderr?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
  }

  static async start(bin: string, kube: KubeCluster, config: Record<string, string>): Promise<Istiod> {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-istiod-"));
    const configDir = join(dir, "config");
    mkdirSync(configDir);
    for (const [name, text] of Object.entries(config)) writeFileSync(join(configDir, name), text);
    writeFileSync(join(dir, "mesh.yaml"), MESH_CONFIG);
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "istio-system" } });
    const kubeconfig = kube.writeKubeconfig(kube.admin.token, "istiod");
    const [grpc, http, monitoring] = (await freePorts(3)) as [number, number, number];
    const child = spawn(join(bin, "pilot-discovery"), [
      "discovery",
      "--meshConfig", join(dir, "mesh.yaml"),
      "--configDir", configDir,
      "--kubeconfig", kubeconfig,
      "--grpcAddr", `127.0.0.1:${grpc}`,
      "--httpAddr", `127.0.0.1:${http}`,
      "--monitoringAddr", `127.0.0.1:${monitoring}`,
      "--secureGRPCAddr", "", "--httpsAddr", "",
    ], { cwd: dir, env: { ...process.env, ...UPSTREAM_ENVOY_ENV }, stdio: ["ignore", "pipe", "pipe"] });
    const istiod = new Istiod(dir, configDir, child, `127.0.0.1:${grpc}`, `http://127.0.0.1:${http}`);
    try {
      await waitFor("istiod /ready", async () => {
        if (child.exitCode !== null) throw new Error(`istiod exited\n${istiod.logText.slice(-3000)}`);
        const r = await fetch(`${istiod.httpUrl}/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      }, 60_000, 200);
    } catch (err) {
      await istiod.stop();
      throw err;
    }
    return istiod;
  }

  /** Adds or replaces one file of Istio configuration; istiod watches the directory. */
  writeConfig(name: string, text: string): void {
    writeFileSync(join(this.configDir, name), text);
  }

  removeConfig(name: string): void {
    rmSync(join(this.configDir, name), { force: true });
  }

  /** The names of the configuration objects istiod has loaded (its /debug/configz). */
  async loadedConfig(): Promise<string[]> {
    const r = await fetch(`${this.httpUrl}/debug/configz`, { signal: AbortSignal.timeout(5000) });
    const objs = (await r.json()) as Array<{ kind?: string; metadata?: { name?: string; namespace?: string } }>;
    return objs.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`);
  }

  log(): string {
    return this.logText;
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 5000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * istio-manifests/envoyfilter.yaml as shipped, but for the local overlay: the picoseg server's
 * in-cluster address and port become the test's 127.0.0.1 and port. Nothing else changes.
 */
export function localEnvoyFilter(xdsPort: number): string {
  const text = readFileSync(join(repoRoot(), "istio-manifests/envoyfilter.yaml"), "utf8");
  const host = "picoseg-xds.picoseg-system.svc.cluster.local";
  const overlaid = text.replaceAll(`{ address: ${host}, port_value: 18000 }`, `{ address: 127.0.0.1, port_value: ${xdsPort} }`);
  if (overlaid.includes(host)) throw new Error(`localEnvoyFilter: envoyfilter.yaml names ${host} in a way the overlay does not know`);
  return overlaid;
}
