// Loading policy files: multi-document files, directories, line numbers of every error,
// YAML syntax errors, unique namespace/name across files, unreadable paths.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duplicateSegmentErrors, loadPolicyDir, loadPolicyFiles, validatePolicyText } from "../../xds-server/src/policy/load.js";
import { formatPolicyError } from "../../api/status.js";
import { segmentDoc } from "./helpers.js";

const FIXTURES = "test/policy/fixtures";
const QUANTITY_HINT = "is not a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi)";

describe("multi-document files", () => {
  it("report each error at its line in the file, keep the valid documents, and skip empty ones", async () => {
    const result = await loadPolicyFiles([`${FIXTURES}/multi-doc.yaml`]);
    expect(result.errors.map(formatPolicyError)).toEqual([
      `${FIXTURES}/multi-doc.yaml:21: spec.rules[0].ports[1]: "9000-8000": range start 9000 is above its end 8000`,
      `${FIXTURES}/multi-doc.yaml:23: spec.rules[0].limits.maxBytesIn: "10MB" ${QUANTITY_HINT}`,
    ]);
    expect(result.notes.map(formatPolicyError)).toEqual([`${FIXTURES}/multi-doc.yaml:25: skipped ConfigMap not-a-segment: not a PicoSegment`]);
    expect(result.segments.map((s) => [s.segment.metadata.name, s.source])).toEqual([["good", { file: `${FIXTURES}/multi-doc.yaml`, line: 2 }]]);
  });

  it("a document's source line is its first content line, after `---` and comments", () => {
    const text = `${segmentDoc("{}", "one")}---\n# second\n\n${segmentDoc("{}", "two")}`;
    expect(validatePolicyText(text, "f.yaml").segments.map((s) => s.source.line)).toEqual([1, 11]);
  });

  it("an empty file or a file of comments holds no segment and no error", () => {
    expect(validatePolicyText("", "e.yaml")).toEqual({ segments: [], errors: [], warnings: [], notes: [] });
    expect(validatePolicyText("# nothing yet\n---\n---\n", "e.yaml")).toEqual({ segments: [], errors: [], warnings: [], notes: [] });
  });
});

describe("YAML syntax errors", () => {
  it("report their own line, and the document is not validated further", async () => {
    const result = await loadPolicyFiles([`${FIXTURES}/syntax-error.yaml`]);
    expect(result.errors.map(formatPolicyError)).toEqual([
      `${FIXTURES}/syntax-error.yaml:5: YAML: Map keys must be unique`,
      `${FIXTURES}/syntax-error.yaml:9: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
    expect(result.segments).toEqual([]);
  });

  it("only the broken document of a file is refused", () => {
    const text = `${segmentDoc("{}", "fine")}---\nkind: [\n`;
    const result = validatePolicyText(text, "f.yaml");
    expect(result.segments.map((s) => s.segment.metadata.name)).toEqual(["fine"]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.line).toBe(10); // the unclosed `[` of line 9 is noticed at the end of the file
  });
});

describe("YAML aliases", () => {
  it("are resolved, but an expansion bomb is refused instead of exhausting memory", () => {
    const ok = segmentDoc("rules:\n  - name: a\n    ports: &p [80, 443]\n  - name: b\n    ports: *p");
    expect(validatePolicyText(ok, "f.yaml").segments[0]?.segment.spec.rules?.[1]?.ports).toEqual([80, 443]);
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")}]`);
    const result = validatePolicyText(`${lines.join("\n")}\n`, "bomb.yaml");
    expect(result.segments).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.message).toMatch(/^YAML: .*alias/i);
  });
});

describe("unknown fields in a file", () => {
  it("are each reported at the line of the key", async () => {
    const result = await loadPolicyFiles([`${FIXTURES}/unknown-fields.yaml`]);
    expect(result.errors.map(formatPolicyError)).toEqual([
      `${FIXTURES}/unknown-fields.yaml:8: spec.selector.labels: unknown field`,
      `${FIXTURES}/unknown-fields.yaml:11: spec.rules[0].form: unknown field`,
      `${FIXTURES}/unknown-fields.yaml:14: spec.rules[0].limits.maxBytes: unknown field`,
    ]);
  });
});

describe("directories", () => {
  it("load *.yaml and *.yml recursively in sorted order, skipping other files, hidden entries and empty documents", async () => {
    const result = await loadPolicyDir(`${FIXTURES}/tree`);
    expect(result.errors).toEqual([]);
    expect(result.files).toEqual([`${FIXTURES}/tree/empty.yaml`, `${FIXTURES}/tree/sub/a-first.yml`, `${FIXTURES}/tree/z-last.yaml`]);
    expect(result.segments.map((s) => s.segment.metadata.name)).toEqual(["a-first", "z-last"]);
  });

  it("name files as the directory was given (a trailing slash is not doubled)", async () => {
    const result = await loadPolicyFiles([`./${FIXTURES}/tree/`]);
    expect(result.files[0]).toBe(`./${FIXTURES}/tree/empty.yaml`);
  });

  it("a file named twice (directly and through its directory) is read once", async () => {
    const result = await loadPolicyFiles([`${FIXTURES}/tree/z-last.yaml`, `${FIXTURES}/tree`]);
    expect(result.errors).toEqual([]);
    expect(result.segments.map((s) => s.segment.metadata.name)).toEqual(["z-last", "a-first"]);
  });
});

describe("segments are unique by namespace/name", () => {
  it("a duplicate across files is reported at both places and neither is loaded", async () => {
    const result = await loadPolicyDir(`${FIXTURES}/duplicates`);
    expect(result.errors.map(formatPolicyError)).toEqual([
      `${FIXTURES}/duplicates/a.yaml:1: segment team-a/web is defined more than once (also at ${FIXTURES}/duplicates/nested/b.yml:2)`,
      `${FIXTURES}/duplicates/nested/b.yml:2: segment team-a/web is defined more than once (also at ${FIXTURES}/duplicates/a.yaml:1)`,
    ]);
    expect(result.segments).toEqual([]);
  });

  it("a duplicate within one file is refused by the per-file validation the directory watcher uses", () => {
    const text = `${segmentDoc("{}", "web")}---\n${segmentDoc("{}", "web")}`;
    const result = validatePolicyText(text, "f.yaml");
    expect(result.errors.map(formatPolicyError)).toEqual([
      "f.yaml:1: segment team-a/web is defined more than once (also at f.yaml:9)",
      "f.yaml:9: segment team-a/web is defined more than once (also at f.yaml:1)",
    ]);
    expect(result.segments).toEqual([]);
  });

  it("the same name in two namespaces is two segments", () => {
    const a = validatePolicyText(segmentDoc("{}", "web", "team-a"), "a.yaml").segments;
    const b = validatePolicyText(segmentDoc("{}", "web", "team-b"), "b.yaml").segments;
    expect(duplicateSegmentErrors([...a, ...b])).toEqual([]);
  });
});

describe("unreadable paths", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "picoseg-load-"));
    await writeFile(join(dir, "ok.yaml"), segmentDoc("{}", "ok"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a missing path is an error in command-line order; the other paths still load", async () => {
    const result = await loadPolicyFiles([join(dir, "missing.yaml"), dir]);
    expect(result.errors.map(formatPolicyError)).toEqual([`${join(dir, "missing.yaml")}:1: cannot read: no such file or directory`]);
    expect(result.segments.map((s) => s.segment.metadata.name)).toEqual(["ok"]);
  });
});
