// istioctl, built from the pinned Istio module, on every manifest the project ships: `validate`
// and `analyze` report no error, and every warning left is one that istio-manifests/README.md
// explains. A broken EnvoyFilter is refused, so the check can fail.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const manifests = path.join(root, "istio-manifests");
const istioctl = path.join(inject("istioBin"), "istioctl");
const scratch = mkdtempSync(path.join(tmpdir(), "picoseg-istioctl-"));

function run(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(istioctl, args, { cwd: root, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The warnings istioctl still gives on istio-manifests/, each explained in its README. */
const EXPLAINED_WARNINGS: RegExp[] = [
  /EnvoyFilter\/istio-system\/picoseg: EnvoyFilter exposes internal implementation details/,
];

function warnings(output: string): string[] {
  return output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("* ") || l.includes("may not provide Istio metrics"));
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("istioctl on istio-manifests/", () => {
  it("istioctl validate -f: every file valid, and the only warnings are the explained ones", () => {
    const { status, output } = run("validate", "-f", "istio-manifests/");
    expect(status, output).toBe(0);
    for (const w of warnings(output)) expect(EXPLAINED_WARNINGS.some((re) => re.test(w)), `unexplained warning: ${w}`).toBe(true);
    for (const re of EXPLAINED_WARNINGS) expect(output, `stale entry in EXPLAINED_WARNINGS: ${re}`).toMatch(re);
    const readme = readFileSync(path.join(manifests, "README.md"), "utf8");
    expect(readme).toContain("EnvoyFilter exposes internal implementation details");
  });

  it("istioctl analyze --use-kube=false: no validation issue", () => {
    const { status, output } = run("analyze", "--use-kube=false", "istio-manifests/");
    expect(status, output).toBe(0);
    expect(output).toContain("No validation issues found");
  });

  it("refuses a broken EnvoyFilter: validate and analyze both fail", () => {
    const bad = path.join(scratch, "envoyfilter-broken.yaml");
    const text = readFileSync(path.join(manifests, "envoyfilter.yaml"), "utf8");
    writeFileSync(bad, text.replace("operation: INSERT_BEFORE", "operation: INSERT_AHEAD"));
    const v = run("validate", "-f", bad);
    expect(v.status).not.toBe(0);
    expect(v.output).toMatch(/unknown value .*INSERT_AHEAD.* for enum istio\.networking\.v1alpha3\.EnvoyFilter\.Patch\.Operation/);
    const a = run("analyze", "--use-kube=false", bad);
    expect(a.status).not.toBe(0);
  });

  it("flags an Envoy field that does not exist in a patch (a warning our check turns into a failure)", () => {
    const bad = path.join(scratch, "envoyfilter-unknown-field.yaml");
    const text = readFileSync(path.join(manifests, "envoyfilter.yaml"), "utf8");
    writeFileSync(bad, text.replace("type_urls:", "type_url:"));
    const { output } = run("validate", "-f", bad);
    const unexplained = warnings(output).filter((w) => !EXPLAINED_WARNINGS.some((re) => re.test(w)));
    expect(unexplained.join("\n")).toContain('unknown field "type_url" in envoy.config.core.v3.ExtensionConfigSource');
  });
});
