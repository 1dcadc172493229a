// The watched policy directory: what a change on disk does to the segments in force.
import { appendFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { validatePolicyText } from "../../xds-server/src/policy/index.js";
import { DirectorySource } from "../../xds-server/src/source/directory.js";
import type { PolicyState } from "../../xds-server/src/source/types.js";
import { eventually } from "../../testkit/xds/fake-envoy.js";
import { segment } from "../../testkit/xds/server-fixture.js";

let dir = "";
let source: DirectorySource | undefined;
let changes = 0;
afterEach(async () => {
  await source?.close();
  source = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function open(files: Record<string, string>): Promise<DirectorySource> {
  dir = await mkdtemp(path.join(tmpdir(), "picoseg-src-"));
  for (const [f, t] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), t);
  }
  changes = 0;
  source = new DirectorySource(dir, { validateFile: (file, text) => validatePolicyText(text, file), debounceMs: 50 });
  source.onChange(() => changes++);
  await source.start();
  return source;
}

const names = (s: PolicyState | undefined): string[] => (s?.segments ?? []).map((x) => `${x.segment.metadata.namespace}/${x.segment.metadata.name}`);
const settle = async (what: string, check: () => boolean): Promise<void> => eventually(check, 5000, what);

describe("the watched policy directory", () => {
  it("loads every document of multi-document files in nested folders, ignoring other files", async () => {
    const s = await open({
      "a.yaml": `${segment("one", "one", 1)}---\n${segment("two", "two", 2)}`,
      "sub/b.yml": segment("three", "three", 3),
      "notes.txt": "not a policy",
      ".hidden.yaml": segment("hidden", "h", 4),
    });
    expect(names(s.current())).toEqual(["shop/one", "shop/two", "shop/three"]);
  });

  it("follows edits, additions, deletions and renames", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1) });
    await writeFile(path.join(dir, "b.yaml"), segment("two", "two", 2));
    await settle("add", () => names(s.current()).includes("shop/two"));
    await writeFile(path.join(dir, "a.yaml"), segment("uno", "one", 1));
    await settle("edit", () => names(s.current()).includes("shop/uno") && !names(s.current()).includes("shop/one"));
    await rename(path.join(dir, "b.yaml"), path.join(dir, "c.yaml"));
    await settle("rename", () => s.current()!.segments.some((x) => x.source.file.endsWith("c.yaml")));
    expect(names(s.current())).toEqual(["shop/uno", "shop/two"]);
    await rm(path.join(dir, "c.yaml"));
    await settle("delete", () => names(s.current()).length === 1);
    await rename(path.join(dir, "a.yaml"), path.join(dir, "a.txt")); // renamed away from *.yaml
    await settle("renamed away", () => names(s.current()).length === 0);
  });

  it("takes an editor's write-to-temp-then-rename as one change after the debounce", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1) });
    const before = changes;
    const tmp = path.join(dir, ".a.yaml.swp");
    await writeFile(tmp, segment("one", "one", 11));
    await rename(tmp, path.join(dir, "a.yaml"));
    await settle("edit", () => JSON.stringify(s.current()!.segments[0]!.segment.spec.rules).includes("11"));
    await new Promise((r) => setTimeout(r, 200));
    expect(changes - before).toBe(1);
  });

  it("refuses a file with an invalid document as a whole, keeps its last good segments, and clears the refusal once fixed", async () => {
    const s = await open({ "a.yaml": `${segment("one", "one", 1)}---\n${segment("two", "two", 2)}` });
    await writeFile(path.join(dir, "a.yaml"), `${segment("one", "one", 1)}---\n${segment("two", "two", 2).replace("ports: [2]", "ports: [-5]")}`);
    await settle("refusal", () => s.current()!.refusals.length > 0);
    const r = s.current()!.refusals[0]!;
    expect(r.text).toBe(`${path.join(dir, "a.yaml")}:${r.line}: spec.rules[0].ports[0]: ${r.message}`);
    expect(r.line).toBeGreaterThan(12);
    expect(names(s.current())).toEqual(["shop/one", "shop/two"]);
    expect(JSON.stringify(s.current()!.segments[1]!.segment.spec.rules)).toContain("[2]");

    await writeFile(path.join(dir, "a.yaml"), segment("one", "one", 1));
    await settle("fixed", () => s.current()!.refusals.length === 0);
    expect(names(s.current())).toEqual(["shop/one"]);
  });

  it("a new invalid file contributes nothing and is reported; YAML syntax errors too", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1) });
    await writeFile(path.join(dir, "b.yaml"), "apiVersion: picoseg.io/v1alpha1\nkind: [unclosed\n");
    await settle("refusal", () => s.current()!.refusals.length > 0);
    expect(s.current()!.refusals[0]!.text).toMatch(/b\.yaml:\d+: /);
    expect(names(s.current())).toEqual(["shop/one"]);
  });

  it("refuses a second definition of the same namespace/name and keeps the first", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1), "b.yaml": segment("one", "other", 2) });
    expect(s.current()!.segments).toHaveLength(1);
    expect(s.current()!.segments[0]!.source.file).toMatch(/a\.yaml$/);
    expect(s.current()!.refusals[0]!.text).toMatch(/b\.yaml:\d+: metadata\.name: segment shop\/one is already defined at .*a\.yaml:1/);
  });

  it("reads a Kubernetes ConfigMap volume (files are symlinks through ..data) and follows its atomic swap", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-cm-"));
    await mkdir(path.join(dir, "..v1"));
    await writeFile(path.join(dir, "..v1", "db.yaml"), segment("db", "db", 1));
    await symlink("..v1", path.join(dir, "..data"));
    await symlink(path.join("..data", "db.yaml"), path.join(dir, "db.yaml"));
    source = new DirectorySource(dir, { validateFile: (file, text) => validatePolicyText(text, file), debounceMs: 50 });
    await source.start();
    expect(names(source.current())).toEqual(["shop/db"]);
    // The kubelet writes a new timestamped dir, then renames a fresh ..data link over the old one.
    await mkdir(path.join(dir, "..v2"));
    await writeFile(path.join(dir, "..v2", "db.yaml"), segment("db2", "db", 2));
    await symlink("..v2", path.join(dir, "..data_tmp"));
    await rename(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    const s = source;
    await settle("swap", () => names(s.current()).includes("shop/db2"));
    expect(names(s.current())).toEqual(["shop/db2"]);
  });

  it("keeps the last state when the directory itself disappears", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1) });
    await rm(dir, { recursive: true });
    await s.rescan();
    expect(names(s.current())).toEqual(["shop/one"]);
  });

  it("does not read a file that is still being written: its size or mtime must hold across the debounce", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1) });
    const published: string[][] = [];
    const refused: string[] = [];
    s.onChange((st, fresh) => {
      published.push(names(st));
      refused.push(...fresh.map((r) => r.text));
    });
    const whole = segment("two", "two", 2);
    const cut = whole.indexOf("spec:");
    await writeFile(path.join(dir, "b.yaml"), whole.slice(0, cut)); // a writer half way through
    await s.rescan(); // a scan right now (another file's event, say) must not take it
    expect(published).toEqual([]);
    await appendFile(path.join(dir, "b.yaml"), whole.slice(cut));
    await settle("the whole file", () => names(s.current()).includes("shop/two"));
    expect(refused).toEqual([]); // the half-written file was never read
    expect(published).toEqual([["shop/one", "shop/two"]]);
  });

  it("recovers when the watched directory is replaced: stale until it reappears, then follows the new one", async () => {
    const s = await open({ "a.yaml": segment("one", "one", 1) });
    expect(s.health().stale).toBe(false);
    await rename(dir, `${dir}.old`);
    await settle("stale", () => s.health().stale);
    expect(s.health().reason).toMatch(/not readable|missing|ENOENT/);
    expect(names(s.current())).toEqual(["shop/one"]); // the last good state stays
    await mkdir(dir);
    await writeFile(path.join(dir, "b.yaml"), segment("two", "two", 2));
    await settle("recovered", () => !s.health().stale && names(s.current()).join() === "shop/two");
    await writeFile(path.join(dir, "c.yaml"), segment("three", "three", 3));
    await settle("watching the new directory", () => names(s.current()).includes("shop/three"));
    await rm(`${dir}.old`, { recursive: true, force: true });
  });

  it("fails to start on a directory that does not exist", async () => {
    const missing = new DirectorySource(path.join(tmpdir(), "picoseg-no-such-dir-xyz"), {
      validateFile: (file, text) => validatePolicyText(text, file),
    });
    await expect(missing.start()).rejects.toThrow();
    await missing.close();
  });
});
