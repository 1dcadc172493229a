// The PicoSegment CustomResourceDefinition, derived from the JSON Schema in policies/ so that
// the CRD and `picoseg validate` can never disagree on structure. Kubernetes wants a
// "structural" OpenAPI v3 schema: no $ref, no JSON-Schema-only keywords, and int-or-string
// fields in exactly one shape. Semantic checks (CIDRs, time zones, …) stay in the server.

import { stringify } from "yaml";

type Schema = { [key: string]: unknown };

const DROPPED_KEYWORDS = new Set(["$schema", "$id", "title", "definitions", "$defs"]);

function isSchema(v: unknown): v is Schema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function resolveRef(ref: string, root: Schema): Schema {
  const m = /^#\/(definitions|\$defs)\/(.+)$/.exec(ref);
  const defs = m ? root[m[1]!] : undefined;
  const target = m && isSchema(defs) ? defs[m[2]!] : undefined;
  if (!isSchema(target)) throw new Error(`crd: unresolvable $ref ${ref}`);
  return target;
}

/** Converts one JSON Schema node into its structural OpenAPI v3 form. */
export function toStructural(node: Schema, root: Schema): Schema {
  if (typeof node.$ref === "string") {
    const { $ref: _ref, ...rest } = node;
    return toStructural({ ...resolveRef(node.$ref, root), ...rest }, root);
  }
  if (node["x-kubernetes-int-or-string"] === true) {
    // The one shape Kubernetes accepts for int-or-string. The integer branch's bounds move up
    // beside it (they only apply to numbers), so the API server itself refuses port 70000;
    // string forms ("8000-8100", "64Ki") are checked by the server too.
    const out: Schema = { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] };
    if (typeof node.description === "string") out.description = node.description;
    const branch = (type: string): Schema | undefined => (Array.isArray(node.anyOf) ? node.anyOf.find((b: unknown): b is Schema => isSchema(b) && b.type === type) : undefined);
    const int = branch("integer");
    if (int) {
      for (const bound of ["minimum", "maximum"]) if (typeof int[bound] === "number") out[bound] = int[bound];
    }
    // Likewise the string branch's pattern (it applies to strings only): a quantity the grammar
    // refuses never reaches the server.
    const str = branch("string");
    for (const key of ["pattern", "minLength"]) if (str?.[key] !== undefined) out[key] = str[key];
    return out;
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    // Unknown fields are pruned by the API server; `false` beside `properties` is not structural.
    if (key === "additionalProperties" && value === false) continue;
    if (key === "properties" && isSchema(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, isSchema(sub) ? toStructural(sub, root) : sub]),
      );
    } else if ((key === "items" || key === "additionalProperties") && isSchema(value)) {
      out[key] = toStructural(value, root);
    } else if ((key === "anyOf" || key === "oneOf" || key === "allOf") && Array.isArray(value)) {
      out[key] = value.map((sub: unknown) => (isSchema(sub) ? toStructural(sub, root) : sub));
    } else {
      out[key] = value;
    }
  }
  return out;
}

function describe(node: unknown): string | undefined {
  return isSchema(node) && typeof node.description === "string" ? node.description : undefined;
}

/**
 * What the xDS server writes through the status subresource (kube/status-writer.ts). It is the
 * server's output, not part of a policy document, so it lives here rather than in the JSON Schema.
 */
export const STATUS_SCHEMA: Schema = {
  type: "object",
  description: "Written by the picoseg xDS server (one replica at a time, the holder of its Lease); never by users.",
  properties: {
    observedGeneration: {
      type: "integer",
      description: "The metadata.generation of the latest version of the spec the server has seen and judged.",
    },
    appliedGeneration: {
      type: "integer",
      description:
        "The metadata.generation of the version in force. Equal to observedGeneration when the latest version was accepted; lower when it was refused and the last good version stays in force; absent when no version was ever accepted.",
    },
    workloads: {
      type: "integer",
      description: "Distinct workloads (namespace, labels, annotations) among the connected proxies that this segment selects.",
    },
    proxies: {
      type: "integer",
      description: "Connected proxies whose configuration includes this segment.",
    },
    proxiesAcked: {
      type: "integer",
      description: "Of those proxies, how many acknowledged (ACKed) the configuration version the server holds for them now.",
    },
    conditions: {
      type: "array",
      description: "Standard Kubernetes conditions. `Accepted`: whether the latest version of the spec passed validation.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
      items: {
        type: "object",
        description: "One condition, in the shape of metav1.Condition.",
        required: ["type", "status", "reason", "message", "lastTransitionTime"],
        properties: {
          type: { type: "string", description: "The condition's name; `Accepted`." },
          status: { type: "string", enum: ["True", "False", "Unknown"], description: "`True`, `False` or `Unknown`." },
          reason: {
            type: "string",
            description: "A CamelCase word: `Valid`; or `Invalid` (the latest version was refused; the message names each field as `picoseg validate` does).",
          },
          message: { type: "string", description: "Human-readable detail: for a refusal, one `object:line: field: message` per error, and which version stays in force." },
          observedGeneration: { type: "integer", description: "The metadata.generation this condition was computed from." },
          lastTransitionTime: { type: "string", format: "date-time", description: "When status last changed between True, False and Unknown." },
        },
      },
    },
  },
};

/** The CRD object for picosegments.picoseg.io, served as v1alpha1. */
export function picoSegmentCrd(schema: Schema): Schema {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const spec = properties.spec;
  if (!isSchema(spec)) throw new Error("crd: the PicoSegment schema has no spec");
  const openAPIV3Schema: Schema = {
    type: "object",
    description: schema.description,
    required: ["spec"],
    properties: {
      apiVersion: { type: "string", description: describe(properties.apiVersion) },
      kind: { type: "string", description: describe(properties.kind) },
      metadata: { type: "object" },
      spec: toStructural(spec, schema),
      status: STATUS_SCHEMA,
    },
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "picosegments.picoseg.io" },
    spec: {
      group: "picoseg.io",
      scope: "Namespaced",
      names: { kind: "PicoSegment", listKind: "PicoSegmentList", plural: "picosegments", singular: "picosegment", shortNames: ["pseg"] },
      versions: [
        {
          name: "v1alpha1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          // status is written by the xDS server through its own endpoint, so an operator's
          // `kubectl apply` never overwrites it and the server never touches the spec.
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Mode", type: "string", jsonPath: ".spec.mode", description: "enforce (default when empty) or audit" },
            { name: "Accepted", type: "string", jsonPath: '.status.conditions[?(@.type=="Accepted")].status', description: "whether the latest version of the spec was accepted" },
            { name: "Workloads", type: "integer", jsonPath: ".status.workloads", description: "distinct workloads among connected proxies that this segment selects" },
            { name: "Proxies", type: "integer", jsonPath: ".status.proxies", priority: 1, description: "connected proxies this segment reaches" },
            { name: "ACKed", type: "integer", jsonPath: ".status.proxiesAcked", priority: 1, description: "of those, proxies that ACKed their current version" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}

export const CRD_HEADER =
  "# Generated from api/picosegment.schema.json by `npm run gen:crd`; edit the schema, not this file.\n";

/** The CRD as the YAML file kept in istio-manifests/crd.yaml. */
export function picoSegmentCrdYaml(schema: Schema): string {
  return CRD_HEADER + stringify(picoSegmentCrd(schema), { lineWidth: 0 });
}
