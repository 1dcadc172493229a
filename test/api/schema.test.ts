// api/picosegment.schema.json: a draft-07 schema that documents every field (it feeds the
// Kubernetes CRD's OpenAPI schema) and refuses unknown fields everywhere.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { picoSegmentSchema } from "../../xds-server/src/policy/schema.js";

type SchemaNode = Record<string, unknown>;

/** Every property schema, with its dotted name, resolving local $refs. */
function properties(node: SchemaNode, root: SchemaNode, at: string, out: Array<[string, SchemaNode]>): void {
  const resolved = typeof node["$ref"] === "string" ? { ...(root["definitions"] as Record<string, SchemaNode>)[node["$ref"].replace("#/definitions/", "")], ...node } : node;
  const props = resolved["properties"] as Record<string, SchemaNode> | undefined;
  for (const [name, child] of Object.entries(props ?? {})) {
    out.push([`${at}${name}`, child]);
    properties(child, root, `${at}${name}.`, out);
  }
  const items = resolved["items"] as SchemaNode | undefined;
  if (items) properties(items, root, `${at.replace(/\.$/, "")}[].`, out);
}

describe("the PicoSegment JSON Schema", () => {
  const onDisk = JSON.parse(readFileSync("api/picosegment.schema.json", "utf8")) as SchemaNode;

  it("is the one the validator uses, and declares draft-07", () => {
    expect(picoSegmentSchema).toEqual(onDisk);
    expect(onDisk["$schema"]).toBe("http://json-schema.org/draft-07/schema#");
  });

  it("describes every field", () => {
    const all: Array<[string, SchemaNode]> = [];
    properties(onDisk, onDisk, "", all);
    expect(all.length).toBeGreaterThan(40);
    const undocumented = all.filter(([, s]) => typeof s["description"] !== "string" || (s["description"] as string).length < 10).map(([n]) => n);
    expect(undocumented).toEqual([]);
  });

  it("refuses unknown fields in every object except metadata (Kubernetes metadata) and status", () => {
    const all: Array<[string, SchemaNode]> = [["", onDisk]];
    properties(onDisk, onDisk, "", all);
    const open = all
      .filter(([, s]) => s["type"] === "object" && s["additionalProperties"] !== false && typeof s["additionalProperties"] !== "object")
      .map(([n]) => n);
    expect(open).toEqual(["metadata", "status"]);
  });
});
