import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { EnvoyFilter } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { picoSegmentCrdYaml } from "../../xds-server/src/kube/crd.js";
import { validatePolicyText } from "../../xds-server/src/policy/index.js";
import { formatPolicyError } from "../../xds-server/src/policy/types.js";

const root = path.resolve(import.meta.dirname, "../..");
const manifestsDir = path.join(root, "istio-manifests");

interface Validatable { validate(): void }
type Model = new (data: never) => Validatable;

// Every kind the manifests use, validated by the models generated from the upstream schemas.
const MODELS: Record<string, Model> = {
  "networking.istio.io/v1alpha3/EnvoyFilter": EnvoyFilter as unknown as Model,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition as unknown as Model,
  "apps/v1/Deployment": Deployment as unknown as Model,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole as unknown as Model,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding as unknown as Model,
  "v1/ConfigMap": ConfigMap as unknown as Model,
  "v1/Namespace": Namespace as unknown as Model,
  "v1/Service": Service as unknown as Model,
  "v1/ServiceAccount": ServiceAccount as unknown as Model,
};

function manifestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? manifestFiles(path.join(dir, e.name)) : e.name.endsWith(".yaml") ? [path.join(dir, e.name)] : [],
  );
}

interface KubeObject { apiVersion: string; kind: string; metadata?: { name?: string }; data?: Record<string, string> }

function objects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

describe("istio-manifests", () => {
  it("crd.yaml is what the JSON Schema in policies/ generates (run `npm run gen:crd` after a schema change)", () => {
    const schema = JSON.parse(readFileSync(path.join(root, "policies/picosegment.schema.json"), "utf8")) as Record<string, unknown>;
    expect(readFileSync(path.join(manifestsDir, "crd.yaml"), "utf8")).toBe(picoSegmentCrdYaml(schema));
  });

  for (const file of manifestFiles(manifestsDir)) {
    it(`${path.relative(root, file)}: every object is valid for its kind`, () => {
      const objs = objects(file);
      expect(objs.length).toBeGreaterThan(0);
      for (const obj of objs) {
        const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
        expect(Model, `no model for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
        expect(() => new Model!(obj as never).validate(), `${obj.kind}/${obj.metadata?.name}`).not.toThrow();
      }
    });
  }

  it("the policies shipped in the xDS server's ConfigMap validate", () => {
    const configMaps = objects(path.join(manifestsDir, "xds-server.yaml")).filter((o) => o.kind === "ConfigMap");
    expect(configMaps).toHaveLength(1);
    for (const [name, text] of Object.entries(configMaps[0]!.data ?? {})) {
      const { segments, errors } = validatePolicyText(text, name);
      expect(errors.map(formatPolicyError)).toEqual([]);
      expect(segments.length).toBeGreaterThan(0);
    }
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
