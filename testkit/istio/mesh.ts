// One Istio control plane for a test file: the Kubernetes API (with istio-manifests/' CRD and
// xDS server objects installed, as in a cluster), istiod reading its Istio config from files
// (istio-manifests/envoyfilter.yaml overlaid for local addresses), the picoseg server on a
// policy directory, and a CA that issues the workload certificates.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { createCa, issueCertificate, type CertificateAuthority } from "../../xds-server/src/demo/pki.js";
import type { ClientTls } from "../envoy/client.js";
import { freePorts } from "../envoy/ports.js";
import { Istiod, localEnvoyFilter } from "./istiod.js";
import { KubeCluster } from "../kube/cluster.js";
import { PicosegServe } from "./picoseg.js";
import { IstioSidecar, spiffeId, type Workload } from "./sidecar.js";

export interface MeshOptions {
  /** Istio configuration files besides the EnvoyFilter (ServiceEntry, WorkloadEntry, Sidecar, ...). */
  istioConfig: Record<string, string>;
  /** PicoSegment files in the picoseg server's policy directory. */
  policies: Record<string, string>;
  /** Start the picoseg server with the mesh (default true). */
  startPicoseg?: boolean;
}

export class IstioMesh {
  private readonly sidecars: IstioSidecar[] = [];
  private constructor(
    readonly kube: KubeCluster,
    readonly istiod: Istiod,
    readonly picoseg: PicosegServe,
    readonly ca: CertificateAuthority,
    readonly policyDir: string,
  ) {}

  static async start(o: MeshOptions): Promise<IstioMesh> {
    const policyDir = mkdtempSync(join(tmpdir(), "picoseg-istio-policies-"));
    for (const [name, text] of Object.entries(o.policies)) writeFileSync(join(policyDir, name), text);
    const [xdsPort, httpPort] = (await freePorts(2)) as [number, number];
    const ca = createCa("picoseg test mesh CA");
    const picoseg = new PicosegServe(policyDir, xdsPort, httpPort, ca);
    const kube = await KubeCluster.start();
    let istiod: Istiod | undefined;
    try {
      istiod = await Istiod.start(inject("istioBin"), kube, { "envoyfilter.yaml": localEnvoyFilter(xdsPort), ...o.istioConfig });
      if (o.startPicoseg ?? true) await picoseg.start();
      return new IstioMesh(kube, istiod, picoseg, ca, policyDir);
    } catch (err) {
      await picoseg.dispose();
      await istiod?.stop();
      await kube.stop();
      throw err;
    }
  }

  async sidecar(w: Workload, interception: "NONE" | "REDIRECT" = "NONE"): Promise<IstioSidecar> {
    const s = await IstioSidecar.start(w, { istioBin: inject("istioBin"), istiodAddress: this.istiod.grpcAddress, ca: this.ca, interception });
    this.sidecars.push(s);
    return s;
  }

  /**
   * What a peer sidecar does over ISTIO_MUTUAL: present its workload certificate, offer Istio's
   * ALPN ("istio" for TCP, "istio-http/1.1" for HTTP), and check the server's SPIFFE identity.
   */
  peerTls(namespace: string, serviceAccount: string, server: IstioSidecar, alpn = "istio"): ClientTls {
    const cert = issueCertificate(this.ca, { commonName: serviceAccount, uris: [spiffeId(namespace, serviceAccount)], usage: "client" });
    return { certPem: cert.certPem, keyPem: cert.keyPem, caPem: this.ca.certPem, alpn: [alpn], serverPrincipal: server.principal };
  }

  /** Replaces one policy file (a plain write: the server's watcher picks it up). */
  writePolicy(name: string, text: string): void {
    writeFileSync(join(this.policyDir, name), text);
  }

  async stop(): Promise<void> {
    for (const s of this.sidecars) await s.stop();
    await this.picoseg.dispose();
    await this.istiod.stop();
    await this.kube.stop();
    rmSync(this.policyDir, { recursive: true, force: true });
  }
}
