// Structural validation of a PicoSegment document against api/picosegment.schema.json
// (the same schema feeds the Kubernetes CRD), with every Ajv error turned into an operator's
// `file:line: field: message`.

import { Ajv, type ErrorObject } from "ajv";
import schemaDocument from "../../../api/picosegment.schema.json" with { type: "json" };
import { formatPath, pointerToPath, type PathStep } from "./path.js";
import { errorAt, type LocatedError, type SourceDocument } from "./yaml-source.js";

/** The JSON Schema of a PicoSegment (draft-07), as kept in policies/. */
export const picoSegmentSchema: Readonly<Record<string, unknown>> = schemaDocument;

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
// Kubernetes' marker for int-or-string fields: an annotation for the CRD, no validation of its own.
ajv.addKeyword({ keyword: "x-kubernetes-int-or-string", schemaType: "boolean" });
const validateSchema = ajv.compile(schemaDocument);

/** Every structural error of one document (empty when it matches the schema). */
export function schemaErrors(doc: SourceDocument, file: string): LocatedError[] {
  if (validateSchema(doc.value)) return [];
  return collapseAnyOf(validateSchema.errors ?? []).map((e) => toPolicyError(e, doc, file));
}

/**
 * An int-or-string field that fails reports one error per `anyOf` branch plus the `anyOf`
 * itself. Keep what helps: when the value has one branch's type, that branch's own complaint
 * (e.g. `must be <= 65535`); otherwise only the `anyOf` error, rephrased as a type error. A
 * string that fails its branch's pattern gets the semantic check's message alone.
 */
function collapseAnyOf(errors: ErrorObject[]): ErrorObject[] {
  const anyOfs = errors.filter((e) => e.keyword === "anyOf");
  const branchOf = (e: ErrorObject): ErrorObject | undefined =>
    anyOfs.find((a) => a !== e && a.instancePath === e.instancePath && e.schemaPath.startsWith(`${a.schemaPath}/`));
  const kept: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === "anyOf") {
      const branchErrors = errors.filter((b) => branchOf(b) === e);
      const meaningful = branchErrors.filter((b) => b.keyword !== "type");
      if (meaningful.length === 0) kept.push(e);
      continue;
    }
    const parent = branchOf(e);
    if (parent === undefined) { kept.push(e); continue; }
    // A branch's pattern and length (the quantity grammar): semantic.ts checks them and says it in words.
    if (!["type", "pattern", "minLength"].includes(e.keyword)) kept.push(e);
  }
  return kept;
}

function toPolicyError(e: ErrorObject, doc: SourceDocument, file: string): LocatedError {
  const path: PathStep[] = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required": {
      const missing = String(params["missingProperty"]);
      return errorAt(doc, file, path, formatPath([...path, missing]), "is required");
    }
    case "additionalProperties": {
      const unknown = [...path, String(params["additionalProperty"])];
      return errorAt(doc, file, unknown, formatPath(unknown), "unknown field");
    }
    default:
      return errorAt(doc, file, path, formatPath(path), describe(e, params));
  }
}

/** A value as the operator wrote it, as far as YAML kept it: JSON would print 1e400 and .nan as null. */
function shown(v: unknown): string {
  if (typeof v === "number" && Number.isNaN(v)) return ".nan, not a number";
  if (typeof v === "number" && !Number.isFinite(v)) return `${v > 0 ? "" : "-"}infinity: a number too large to represent, such as 1e400 or .inf`;
  return JSON.stringify(v) ?? String(v);
}

function describe(e: ErrorObject, params: Record<string, unknown>): string {
  const got = (): string => `(got ${shown(e.data)})`;
  switch (e.keyword) {
    case "type":
      return `must be ${typeName(String(params["type"]))} ${got()}`;
    case "anyOf": {
      const branches = (e.schema as Array<{ type?: string }>).map((b) => typeName(String(b.type)));
      return `must be ${branches.join(" or ")} ${got()}`;
    }
    case "enum":
      return `must be one of ${(params["allowedValues"] as unknown[]).map((v) => String(v)).join(", ")} ${got()}`;
    case "minimum":
      return `must be at least ${String(params["limit"])} ${got()}`;
    case "maximum":
      return `must be at most ${String(params["limit"])} ${got()}`;
    case "minItems": {
      // An empty list of sources, ports or protocols reads as "none" to some and "any" to others.
      const hint = e.instancePath.endsWith("/windows") ? "" : " (omit the field to match any)";
      return `must list at least ${String(params["limit"])} item${hint}`;
    }
    default:
      return e.message ?? e.keyword;
  }
}

function typeName(type: string): string {
  switch (type) {
    case "object": return "a mapping";
    case "array": return "a list";
    case "string": return "a string";
    case "integer": return "an integer";
    case "number": return "a number";
    case "boolean": return "true or false";
    default: return type;
  }
}
