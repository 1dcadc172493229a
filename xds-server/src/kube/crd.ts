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
    // The one shape Kubernetes accepts for int-or-string; bounds are checked by the server.
    const out: Schema = { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] };
    if (typeof node.description === "string") out.description = node.description;
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
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: toStructural(spec, schema),
      ...(isSchema(properties.status) ? { status: toStructural(properties.status, schema) } : {}),
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
          additionalPrinterColumns: [
            { name: "Mode", type: "string", jsonPath: ".spec.mode" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}

export const CRD_HEADER =
  "# Generated from policies/picosegment.schema.json by `npm run gen:crd`; edit the schema, not this file.\n";

/** The CRD as the YAML file kept in istio-manifests/crd.yaml. */
export function picoSegmentCrdYaml(schema: Schema): string {
  return CRD_HEADER + stringify(picoSegmentCrd(schema), { lineWidth: 0 });
}
