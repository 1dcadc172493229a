// `picoseg validate` and `picoseg compile` as an operator runs them: the built CLI
// (bin/picoseg.js → dist/) in a child process; exit codes, stdout, stderr.

import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadPolicyDir } from "../../xds-server/src/policy/load.js";
import { compileForWorkload } from "../../xds-server/src/policy/compile.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function picoseg(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("node", ["bin/picoseg.js", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Newest modification time of the TypeScript the CLI is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") || entry.name.endsWith(".json")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  // `npm test` builds first; a direct vitest run rebuilds only when dist/ is older than the sources.
  const built = (() => {
    try {
      return statSync("dist/xds-server/src/cli/commands/compile.js").mtimeMs;
    } catch {
      return 0;
    }
  })();
  const sources = Math.max(newestSource("xds-server/src"), statSync("api/picosegment.schema.json").mtimeMs);
  if (built < sources) {
    try {
      execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { stdio: "pipe" });
    } catch {
      // tsc still emits when another module has a type error; the assertions below judge the result.
    }
  }
}, 120_000);

const LINE = /^[^\s:]+:\d+: /;

describe("picoseg validate", () => {
  it("exits 0 with a one-line summary on stderr and nothing on stdout when every document is valid", async () => {
    const run = await picoseg("validate", "policies");
    expect(run).toEqual({ code: 0, stdout: "", stderr: "4 segments valid in 4 files\n" });
  });

  it("exits 1 and prints every error as file:line: field: message on stderr, paths as given", async () => {
    const run = await picoseg("validate", "test/policy/fixtures/multi-doc.yaml", "./test/policy/fixtures/unknown-fields.yaml");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toEqual([
      'test/policy/fixtures/multi-doc.yaml:21: spec.rules[0].ports[1]: "9000-8000": range start 9000 is above its end 8000',
      'test/policy/fixtures/multi-doc.yaml:23: spec.rules[0].limits.maxBytesIn: "10MB" is not a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi)',
      "./test/policy/fixtures/unknown-fields.yaml:8: spec.selector.labels: unknown field",
      "./test/policy/fixtures/unknown-fields.yaml:11: spec.rules[0].form: unknown field",
      "./test/policy/fixtures/unknown-fields.yaml:14: spec.rules[0].limits.maxBytes: unknown field",
      "test/policy/fixtures/multi-doc.yaml:25: note: skipped ConfigMap not-a-segment: not a PicoSegment",
    ]);
  });

  it("-o json: one object per error with file, line, field and message, on stdout; the same exit code", async () => {
    const run = await picoseg("validate", "-o", "json", "test/policy/fixtures/multi-doc.yaml");
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("");
    const out = JSON.parse(run.stdout) as { valid: boolean; errors: unknown[]; notes: unknown[] };
    expect(out.valid).toBe(false);
    expect(out.errors).toEqual([
      { file: "test/policy/fixtures/multi-doc.yaml", line: 21, field: "spec.rules[0].ports[1]", message: '"9000-8000": range start 9000 is above its end 8000' },
      { file: "test/policy/fixtures/multi-doc.yaml", line: 23, field: "spec.rules[0].limits.maxBytesIn", message: '"10MB" is not a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi)' },
    ]);
    expect(out.notes).toEqual([{ file: "test/policy/fixtures/multi-doc.yaml", line: 25, field: "", message: "skipped ConfigMap not-a-segment: not a PicoSegment" }]);
  });

  it("- reads standard input: a segment with Kubernetes quantities beside a ConfigMap is valid, the ConfigMap noted", async () => {
    const text = [
      "apiVersion: v1", "kind: ConfigMap", "metadata: { name: settings, namespace: shop }", "data: { a: b }", "---",
      "apiVersion: picoseg.io/v1alpha1", "kind: PicoSegment", "metadata: { name: db, namespace: shop }", "spec:", "  rules:",
      "    - name: api", "      limits: { maxBytesIn: 10M, maxBytesOut: 1G, maxMessageBytes: 500k }", "      perSource: { window: 1h, maxBytes: 1.5Gi }", "",
    ].join("\n");
    const run = await new Promise<Run>((resolve) => {
      const child = execFile("node", ["bin/picoseg.js", "validate", "-"], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
      });
      child.stdin!.end(text);
    });
    expect(run).toEqual({ code: 0, stdout: "", stderr: "<stdin>:1: note: skipped ConfigMap settings: not a PicoSegment\n1 segment valid in 1 file\n" });
  });

  it("validates whole directories: every error of every file, one per line", async () => {
    const run = await picoseg("validate", "test/policy/fixtures");
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines.every((l) => LINE.test(l))).toBe(true);
    expect(lines).toContain("test/policy/fixtures/syntax-error.yaml:5: YAML: Map keys must be unique");
    expect(lines).toContain('test/policy/fixtures/wrong-api-version.yaml:1: apiVersion: expected picoseg.io/v1alpha1, found "picoseg.io/v1"');
    expect(lines.filter((l) => l.includes("defined more than once"))).toHaveLength(2);
  });

  it("warns about the lengthPrefixed Postgres form and still exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-warn-"));
    try {
      const file = join(dir, "db.yaml");
      writeFileSync(file, [
        "apiVersion: picoseg.io/v1alpha1", "kind: PicoSegment", "metadata: { name: db, namespace: ns }", "spec:", "  rules:",
        "    - name: api", "      protocols: [postgres]",
        "      limits: { maxMessageBytes: 1Mi, framing: { type: lengthPrefixed, offset: 1, width: 4, endian: big, adjustment: -4 } }", "",
      ].join("\n"));
      const run = await picoseg("validate", file);
      expect(run.code).toBe(0);
      expect(run.stderr.split("\n")).toEqual([
        `${file}:8: spec.rules[0].limits.framing: warning: lengthPrefixed misframes Postgres: the StartupMessage and SSLRequest have no type byte, so every later boundary drifts; write framing: { type: postgres }`,
        "1 segment valid in 1 file",
        "",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a missing path is an error, exit 1", async () => {
    const run = await picoseg("validate", "no/such/dir");
    expect(run).toEqual({ code: 1, stdout: "", stderr: "no/such/dir:1: cannot read: no such file or directory\n" });
  });

  it("refuses a FIFO (or any non-regular file) at once instead of waiting on it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "picoseg-fifo-"));
    try {
      const fifo = join(dir, "policy.yaml");
      execFileSync("mkfifo", [fifo]);
      const started = Date.now();
      const run = await picoseg("validate", fifo);
      expect(run).toEqual({ code: 1, stdout: "", stderr: `${fifo}:1: cannot read: not a regular file (a FIFO)\n` });
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("needs at least one path", async () => {
    const run = await picoseg("validate");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/missing required argument/);
  });
});

describe("picoseg compile", () => {
  const now = "2026-06-15T12:00:00Z";

  it("prints exactly the configuration string on stdout (the same as the library's), nothing on stderr", async () => {
    const run = await picoseg("compile", "policies", "--namespace", "payments", "--labels", "app=payments-db,version=v3", "--now", now);
    const { segments } = await loadPolicyDir("policies");
    const expected = compileForWorkload(segments, { namespace: "payments", labels: { app: "payments-db", version: "v3" }, annotations: {} }, { now: new Date(now) });
    expect(run).toEqual({ code: 0, stdout: expected.config, stderr: "" });
    // payments-db is regulated (compliance: [pci-dss]): its filter reports its denials.
    expect(run.stdout).toMatch(/^picoseg 1\nobserve xds 5000 1024 denials\ntz 0 60 .*\nsegment payments\/payments-db enforce\n[\s\S]*\nend\n$/);
  });

  it("applies annotations (repeatable flags merge), and prints warnings on stderr only", async () => {
    const run = await picoseg(
      "compile", "policies", "--namespace", "analytics", "--labels", "app=reporting-api",
      "--annotations", "picoseg.io/mode=enforce", "--annotations", "picoseg.io/max-bytes-in=64Ki,picoseg.io/max-bytes-out=lots",
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("segment analytics/reporting-api enforce\nrule dashboards\n");
    expect(run.stdout).toContain("maxBytesIn 65536\n");
    expect(run.stdout.endsWith("end\n")).toBe(true);
    expect(run.stderr).toBe(
      'warning: annotation picoseg.io/max-bytes-out: "lots" is not a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi); ignored\n',
    );
  });

  it("a workload no segment selects gets the header and end", async () => {
    const run = await picoseg("compile", "policies", "--namespace", "payments", "--labels", "");
    expect(run).toEqual({ code: 0, stdout: "picoseg 1\nend\n", stderr: "" });
  });

  it("never compiles from a partly invalid directory: errors on stderr, nothing on stdout, exit 1", async () => {
    const run = await picoseg("compile", "test/policy/fixtures", "--namespace", "team-a", "--labels", "app=web");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("test/policy/fixtures/unknown-fields.yaml:8: spec.selector.labels: unknown field\n");
  });

  it("requires --namespace and --labels, and refuses malformed pairs", async () => {
    expect((await picoseg("compile", "policies", "--labels", "app=x")).code).toBe(1);
    expect((await picoseg("compile", "policies", "--namespace", "payments")).code).toBe(1);
    const bad = await picoseg("compile", "policies", "--namespace", "payments", "--labels", "app");
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/expected k=v pairs separated by commas, got "app"/);
  });
});
