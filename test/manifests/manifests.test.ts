import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { EnvoyFilter } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { buildProgram } from "../../xds-server/src/cli/main.js";
import { picoSegmentCrdYaml } from "../../api/crd.js";
import { parsePeerUrls } from "../../xds-server/src/telemetry/peers.js";
import { validatePolicyText } from "../../xds-server/src/policy/index.js";
import { formatPolicyError } from "../../api/status.js";

const root = path.resolve(import.meta.dirname, "../..");
const manifestsDir = path.join(root, "istio-manifests");

interface Validatable { validate(): void }
type Model = new (data: never) => Validatable;

// Every kind the manifests use, validated by the models generated from the upstream schemas.
const MODELS: Record<string, Model> = {
  "networking.istio.io/v1alpha3/EnvoyFilter": EnvoyFilter as unknown as Model,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition as unknown as Model,
  "apps/v1/Deployment": Deployment as unknown as Model,
  "apps/v1/StatefulSet": StatefulSet as unknown as Model,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole as unknown as Model,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding as unknown as Model,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as Model,
  "rbac.authorization.k8s.io/v1/Role": Role as unknown as Model,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding as unknown as Model,
  "v1/Namespace": Namespace as unknown as Model,
  "v1/Service": Service as unknown as Model,
  "v1/ServiceAccount": ServiceAccount as unknown as Model,
};

function manifestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? manifestFiles(path.join(dir, e.name)) : e.name.endsWith(".yaml") ? [path.join(dir, e.name)] : [],
  );
}

interface KubeObject { apiVersion: string; kind: string; metadata?: { name?: string }; spec?: Record<string, unknown> }

function objects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

describe("istio-manifests", () => {
  it("crd.yaml is what the JSON Schema in policies/ generates (run `npm run gen:crd` after a schema change)", () => {
    const schema = JSON.parse(readFileSync(path.join(root, "api/picosegment.schema.json"), "utf8")) as Record<string, unknown>;
    expect(readFileSync(path.join(manifestsDir, "crd.yaml"), "utf8")).toBe(picoSegmentCrdYaml(schema));
  });

  for (const file of manifestFiles(manifestsDir)) {
    it(`${path.relative(root, file)}: every object is valid for its kind`, () => {
      const objs = objects(file);
      expect(objs.length).toBeGreaterThan(0);
      for (const obj of objs) {
        if (obj.kind === "PicoSegment") {
          // Our own kind: the JSON Schema and semantic checks of `picoseg validate`.
          const { errors } = validatePolicyText(stringify(obj), path.relative(root, file));
          expect(errors.map(formatPolicyError)).toEqual([]);
          continue;
        }
        const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
        expect(Model, `no model for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
        expect(() => new Model!(obj as never).validate(), `${obj.kind}/${obj.metadata?.name}`).not.toThrow();
      }
    });
  }

  it("the xDS server runs as 2 replicas on the PicoSegment resources: PDB, readiness on /readyz, anti-affinity, pod identity, an audit trail per replica", () => {
    const objs = objects(path.join(manifestsDir, "xds-server.yaml"));
    const set = objs.find((o) => o.kind === "StatefulSet") as unknown as {
      spec: {
        replicas: number;
        serviceName: string;
        template: { spec: { affinity?: { podAntiAffinity?: unknown }; containers: Array<{ args: string[]; readinessProbe: { httpGet: { path: string } }; env?: Array<{ name: string }>; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }> } };
        volumeClaimTemplates: Array<{ metadata: { name: string } }>;
        persistentVolumeClaimRetentionPolicy: { whenDeleted: string; whenScaled: string };
      };
    };
    expect(set.spec.replicas).toBe(2);
    const container = set.spec.template.spec.containers[0]!;
    expect(container.args).toContain("--kubernetes");
    expect(container.args).not.toContain("--policies");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect((container.env ?? []).map((e) => e.name)).toEqual(["POD_NAME", "POD_NAMESPACE"]);
    expect(set.spec.template.spec.affinity?.podAntiAffinity).toBeDefined();
    const pdb = objs.find((o) => o.kind === "PodDisruptionBudget");
    expect(pdb?.spec).toMatchObject({ minAvailable: 1, selector: { matchLabels: { app: "picoseg-xds" } } });
    // The audit log lives on the replica's own claim, which outlives the pod and the StatefulSet.
    const auditLog = container.args[container.args.indexOf("--audit-log") + 1]!;
    const mount = container.volumeMounts.find((m) => auditLog.startsWith(`${m.mountPath}/`));
    expect(mount, `a volume holds ${auditLog}`).toBeDefined();
    expect(mount!.readOnly).not.toBe(true);
    expect(set.spec.volumeClaimTemplates.map((t) => t.metadata.name)).toContain(mount!.name);
    expect(set.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    const governing = objs.find((o) => o.kind === "Service" && o.metadata?.name === set.spec.serviceName) as unknown as { spec: { clusterIP?: string } } | undefined;
    expect(governing?.spec.clusterIP).toBe("None");
  });

  it("every flag the xDS server's manifest passes is one `picoseg serve` has, and --peers names each replica's HTTP side", () => {
    const objs = objects(path.join(manifestsDir, "xds-server.yaml"));
    const set = objs.find((o) => o.kind === "StatefulSet") as unknown as {
      metadata: { name: string; namespace: string };
      spec: { replicas: number; serviceName: string; template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    const args = set.spec.template.spec.containers[0]!.args;
    const serve = buildProgram().commands.find((c) => c.name() === "serve")!;
    const known = new Set(serve.options.map((o) => o.long));
    expect(args[0]).toBe("serve");
    expect(args.filter((a) => a.startsWith("--") && !known.has(a))).toEqual([]);
    const arg = (flag: string): string => args[args.indexOf(flag) + 1]!;
    // HTTPS when the server has a certificate; the port it listens on; one URL per replica, by its stable name.
    const scheme = args.includes("--tls-cert") ? "https" : "http";
    const { name, namespace } = set.metadata;
    const want = Array.from({ length: set.spec.replicas }, (_, i) => `${scheme}://${name}-${i}.${set.spec.serviceName}.${namespace}.svc:${arg("--http-port")}`);
    expect(parsePeerUrls(arg("--peers"), "--peers")).toEqual(want);
  });

  it("the EnvoyFilter inserts the picoseg filter by ECDS before both terminal filters of inbound chains, without a default config (fail closed)", () => {
    const [envoyFilter] = objects(path.join(manifestsDir, "envoyfilter.yaml")) as unknown as Array<{
      spec: {
        configPatches: Array<{
          applyTo: string;
          match: { context: string; listener?: { filterChain?: { filter?: { name?: string } } } };
          patch: { operation: string; value: Record<string, unknown> };
        }>;
      };
    }>;
    const patches = envoyFilter!.spec.configPatches.filter((p) => p.applyTo === "NETWORK_FILTER");
    // An inbound chain ends in tcp_proxy (TCP) or http_connection_manager (HTTP): both, or HTTP ports fail open.
    expect(patches.map((p) => p.match.listener?.filterChain?.filter?.name).sort()).toEqual([
      "envoy.filters.network.http_connection_manager",
      "envoy.filters.network.tcp_proxy",
    ]);
    for (const patch of patches) {
      expect(patch.match.context).toBe("SIDECAR_INBOUND");
      expect(patch.patch.operation).toBe("INSERT_BEFORE");
      expect(patch.patch.value.name).toBe("picoseg");
      const discovery = patch.patch.value.config_discovery as Record<string, unknown>;
      expect(discovery.type_urls).toEqual(["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"]);
      expect(discovery).not.toHaveProperty("default_config");
    }
  });
});
