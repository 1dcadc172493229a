// Policy files → validated PicoSegments. Text of one file (the xDS server's directory
// watcher validates each file on its own, refusing only the bad one), lists of files and
// directories (the CLI), and the one check that spans files: unique namespace/name.

import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { fileTooLarge, MAX_DOCUMENTS_PER_FILE, MAX_FILE_BYTES, MAX_RULES_PER_SEGMENT } from "./limits.js";
import { schemaErrors } from "./schema.js";
import { semanticErrors, semanticWarnings } from "./semantic.js";
import type { LoadedSegment, PolicyLoadResult } from "./types.js";
import type { PolicyError } from "../../../api/status.js";
import type { PicoSegment } from "../../../api/picosegment.js";
import { parseYamlDocuments, type SourceDocument } from "./yaml-source.js";
import { errorMessage } from "../util/index.js";

export const API_VERSION = "picoseg.io/v1alpha1";
export const KIND = "PicoSegment";

/**
 * The valid segments of one file's text and the errors of the others (`file` names it in
 * errors). A segment defined twice in the file is refused at both places; duplicates across
 * files are for the caller to check over all files (duplicateSegmentErrors).
 */
export function validatePolicyText(text: string, file: string): Omit<PolicyLoadResult, "files"> {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_FILE_BYTES) return { segments: [], errors: [{ file, line: 1, field: "", message: fileTooLarge(bytes) }], warnings: [], notes: [] };
  const parsed = parseYamlDocuments(text, file);
  const valid: LoadedSegment[] = [];
  const errors: PolicyError[] = [...parsed.errors];
  const warnings: PolicyError[] = [];
  const notes: PolicyError[] = [];
  if (parsed.documents.length > MAX_DOCUMENTS_PER_FILE) {
    const message = `${parsed.documents.length} documents; a policy file may hold at most ${MAX_DOCUMENTS_PER_FILE} (split it into several files)`;
    return { segments: [], errors: [{ file, line: 1, field: "", message }], warnings, notes };
  }
  for (const doc of parsed.documents) {
    const other = otherApiObject(doc.value);
    if (other !== undefined) {
      notes.push({ file, line: doc.line, field: "", message: `skipped ${other}: not a ${KIND}`, document: doc.line });
      continue;
    }
    const docErrors = documentErrors(doc, file);
    if (docErrors.length === 0) {
      valid.push({ segment: doc.value as PicoSegment, source: { file, line: doc.line } });
      warnings.push(...semanticWarnings(doc, file).map(({ file: f, line, field, message }) => ({ file: f, line, field, message, document: doc.line })));
    }
    errors.push(...docErrors.map((e) => ({ ...e, document: doc.line })));
  }
  const { unique, errors: duplicates } = withoutDuplicates(valid);
  errors.push(...duplicates);
  errors.sort((a, b) => a.line - b.line);
  return { segments: unique, errors, warnings, notes };
}

/**
 * "Kind name" of a Kubernetes object of another API group (a ConfigMap or Deployment beside the
 * segments in one file, as `kubectl apply -f` takes it); undefined for anything that claims to
 * be ours or is no object at all, which validation judges.
 */
function otherApiObject(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { apiVersion, kind, metadata } = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  if (typeof apiVersion !== "string" || typeof kind !== "string" || kind === KIND) return undefined;
  if (apiVersion.split("/")[0] === API_VERSION.split("/")[0]) return undefined;
  return typeof metadata?.name === "string" ? `${kind} ${metadata.name}` : kind;
}

function documentErrors(doc: SourceDocument, file: string): PolicyError[] {
  const value = doc.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const found = Array.isArray(value) ? "a list" : `${JSON.stringify(value)}`;
    return [{ file, line: doc.line, field: "", message: `expected a ${KIND} mapping, found ${found}` }];
  }
  const record = value as Record<string, unknown>;
  const kind = record["kind"];
  if (kind !== KIND) {
    const found = kind === undefined ? "no kind" : JSON.stringify(kind);
    return [{ file, line: doc.lineOf(["kind"]), field: "kind", message: `expected ${KIND}, found ${found}` }];
  }
  const apiVersion = record["apiVersion"];
  if (apiVersion !== API_VERSION) {
    const found = apiVersion === undefined ? "no apiVersion" : JSON.stringify(apiVersion);
    return [{ file, line: doc.lineOf(["apiVersion"]), field: "apiVersion", message: `expected ${API_VERSION}, found ${found}` }];
  }
  const rules = (record["spec"] as { rules?: unknown } | undefined)?.rules;
  if (Array.isArray(rules) && rules.length > MAX_RULES_PER_SEGMENT) {
    return [{ file, line: doc.lineOf(["spec", "rules"]), field: "spec.rules", message: `${rules.length} rules; a segment may have at most ${MAX_RULES_PER_SEGMENT}` }];
  }
  // In document order (structural before semantic errors of the same node), as an editor shows them.
  return [...schemaErrors(doc, file), ...semanticErrors(doc, file)]
    .sort((a, b) => a.offset - b.offset)
    .map(({ file: f, line, field, message }) => ({ file: f, line, field, message }));
}

/**
 * Segments defined more than once (same namespace/name), in one file or across files: one
 * error at every place, naming the others. Such a segment must not be served at all, since
 * which definition wins would depend on file order.
 */
export function duplicateSegmentErrors(segments: readonly LoadedSegment[]): PolicyError[] {
  const byKey = new Map<string, LoadedSegment[]>();
  for (const s of segments) {
    const key = segmentKey(s.segment);
    byKey.set(key, [...(byKey.get(key) ?? []), s]);
  }
  const errors: PolicyError[] = [];
  for (const [key, places] of byKey) {
    if (places.length < 2) continue;
    for (const here of places) {
      const others = places.filter((p) => p !== here).map((p) => `${p.source.file}:${p.source.line}`);
      errors.push({ ...here.source, field: "", message: `segment ${key} is defined more than once (also at ${others.join(", ")})` });
    }
  }
  return errors;
}

/** The segments not defined more than once, and the errors of those that are. */
function withoutDuplicates(segments: LoadedSegment[]): { unique: LoadedSegment[]; errors: PolicyError[] } {
  const errors = duplicateSegmentErrors(segments);
  const duplicated = new Set(errors.map((e) => `${e.file}:${e.line}`));
  return { unique: segments.filter((s) => !duplicated.has(`${s.source.file}:${s.source.line}`)), errors };
}

export function segmentKey(segment: PicoSegment): string {
  return `${segment.metadata.namespace}/${segment.metadata.name}`;
}

/**
 * Loads files and directories (recursively: *.yaml and *.yml, sorted, hidden entries such as
 * a ConfigMap mount's `..data` skipped). Duplicated segments are reported and left out.
 */
export async function loadPolicyFiles(paths: readonly string[]): Promise<PolicyLoadResult> {
  const files: string[] = [];
  const errors: PolicyError[] = [];
  const warnings: PolicyError[] = [];
  const notes: PolicyError[] = [];
  const loaded: LoadedSegment[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let expanded: string[];
    try {
      expanded = await expand(path);
    } catch (err) {
      errors.push({ file: path, line: 1, field: "", message: `cannot read: ${describeIoError(err)}` });
      continue;
    }
    for (const file of expanded) {
      try {
        const real = await realpath(file);
        if (seen.has(real)) continue; // the same file named twice is read once
        seen.add(real);
        const text = await readFile(file, "utf8");
        files.push(file);
        const result = validatePolicyText(text, file);
        loaded.push(...result.segments);
        errors.push(...result.errors);
        warnings.push(...result.warnings);
        notes.push(...result.notes);
      } catch (err) {
        errors.push({ file, line: 1, field: "", message: `cannot read: ${describeIoError(err)}` });
      }
    }
  }
  const { unique, errors: duplicates } = withoutDuplicates(loaded);
  errors.push(...duplicates);
  return { segments: unique, errors, warnings, notes, files };
}

/** Loads one directory of policy files (see loadPolicyFiles). */
export function loadPolicyDir(dir: string): Promise<PolicyLoadResult> {
  return loadPolicyFiles([dir]);
}

const POLICY_FILE = /\.ya?ml$/;

async function expand(path: string): Promise<string[]> {
  const info = await stat(path);
  // Reading a FIFO or a device would wait for a writer, or forever.
  if (!info.isDirectory() && !info.isFile()) throw new NotRegular(info.isFIFO() ? "a FIFO" : info.isSocket() ? "a socket" : "a device");
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  await walk(path, out, new Set());
  return out;
}

async function walk(dir: string, out: string[], visited: Set<string>): Promise<void> {
  const real = await realpath(dir);
  if (visited.has(real)) return; // a symlink loop
  visited.add(real);
  const names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort(compareCodeUnits);
  for (const name of names) {
    const path = dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`; // as the operator named the directory
    const info = await stat(path).catch(() => undefined); // a dangling symlink is no policy
    if (!info) continue;
    if (info.isDirectory()) await walk(path, out, visited);
    else if (info.isFile() && POLICY_FILE.test(name)) out.push(path);
  }
}

/** Locale-independent order, so that every machine merges files identically. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

class NotRegular extends Error {
  constructor(what: string) {
    super(`not a regular file (${what})`);
  }
}

function describeIoError(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (code === "ENOENT") return "no such file or directory";
    if (code === "EACCES") return "permission denied";
    if (code === "EISDIR") return "is a directory";
  }
  return errorMessage(err);
}
