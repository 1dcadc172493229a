// YAML text → plain documents that remember where each node came from, so that every error
// can name the line of the offending node (`file:line: field: message`).

import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from "yaml";
import type { FieldPath } from "./path.js";
import type { PolicyError } from "../../../api/status.js";
import { errorMessage } from "../util/index.js";

/** One non-empty YAML document of a file. */
export interface SourceDocument {
  /** The document as plain data (mappings become objects, sequences arrays). */
  value: unknown;
  /** 1-based line of the document's first content line. */
  line: number;
  /**
   * Line of the node at `path`: for a mapping entry the line of its key, for a sequence item
   * the line of the item. A path that does not exist (a missing field) resolves to the line of
   * the deepest node that does, so "is required" errors point at the parent.
   */
  lineOf(path: FieldPath): number;
  /** Source offset of the same node as lineOf, to list errors in document order. */
  offsetOf(path: FieldPath): number;
}

/** An error and the source offset of its node, so that a document's errors can be listed in order. */
export interface LocatedError extends PolicyError {
  offset: number;
}

/** The error at `path` of `doc` (line and offset of the node the path names). */
export function errorAt(doc: SourceDocument, file: string, path: FieldPath, field: string, message: string): LocatedError {
  return { file, line: doc.lineOf(path), field, message, offset: doc.offsetOf(path) };
}

export interface ParsedSource {
  documents: SourceDocument[];
  errors: PolicyError[];
}

/** A PicoSegment is a dozen levels deep; far deeper input is an attack on the validator's stack. */
const MAX_DEPTH = 64;
const TOO_DEEP = `nesting too deep (a policy document may nest at most ${MAX_DEPTH} levels)`;

/** Whether a plain value nests deeper than `max`; iterative, so any depth is safe to ask. */
function depthOver(root: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d >= max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) stack.push([x, d + 1]);
  }
  return false;
}

/** Parses every `---`-separated document of `text`; empty documents are skipped. */
export function parseYamlDocuments(text: string, file: string): ParsedSource {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const documents: SourceDocument[] = [];
  const errors: PolicyError[] = [];

  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { documents: [], errors: [{ file, line: 1, field: "", message: TOO_DEEP }] };
  }
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      // A document with syntax errors is never half-trusted: report them, skip its content.
      for (const e of doc.errors) {
        // The parser reports its own stack overflow on deep nesting as an error of the document.
        const message = /Maximum call stack size exceeded/.test(e.message) ? TOO_DEEP : `YAML: ${firstLine(e.message)}`;
        errors.push({ file, line: lineAt(e.pos[0]), field: "", message });
      }
      continue;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) continue; // empty document
    const rootOffset = root.range ? root.range[0] : 0;
    let value: unknown;
    try {
      // A bounded alias expansion: a few aliases must not expand into gigabytes ("billion laughs").
      value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    } catch (err) {
      const message = err instanceof RangeError ? TOO_DEEP : `YAML: ${errorMessage(err)}`;
      errors.push({ file, line: lineAt(rootOffset), field: "", message });
      continue;
    }
    if (depthOver(value, MAX_DEPTH)) {
      errors.push({ file, line: lineAt(rootOffset), field: "", message: TOO_DEEP });
      continue;
    }
    documents.push({
      value,
      line: lineAt(rootOffset),
      lineOf: (path) => lineAt(offsetOfPath(root, path, rootOffset)),
      offsetOf: (path) => offsetOfPath(root, path, rootOffset),
    });
  }
  return { documents, errors };
}

function offsetOfPath(root: Node, path: FieldPath, rootOffset: number): number {
  let node: unknown = root;
  let offset = rootOffset;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      const key = pair.key as Node;
      if (key.range) offset = key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof step === "number") {
      const item: unknown = node.items[step];
      if (item === undefined) break;
      const range = (item as Node | null)?.range;
      if (range) offset = range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
