// Envoy itself accepts what the builders produce: `picoseg envoy --mode validate -c FILE` on the
// static bootstrap and on the bootstraps `picoseg sidecar --print` prints (plain, ADS+delta, mTLS).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticBootstrap, toYaml } from "../../xds-server/src/bootstrap/index.js";
import { filterWasmPath, repoRoot } from "../../xds-server/src/util/index.js";
import { generateMtls, type MtlsMaterial } from "../../testkit/envoy/certs.js";

const ROOT = repoRoot();
const CLI = join(ROOT, "bin", "picoseg.js");

function picoseg(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("picoseg envoy --mode validate accepts the generated bootstraps", () => {
  let dir: string;
  let certs: MtlsMaterial;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "picoseg-validate-"));
    certs = generateMtls(["spiffe://cluster.local/ns/payments/sa/api"]);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    certs.cleanup();
  });

  function validate(yaml: string, name: string): void {
    const file = join(dir, name);
    writeFileSync(file, yaml);
    const r = picoseg(["envoy", "--mode", "validate", "--disable-hot-restart", "-c", file]);
    expect(r.stderr + r.stdout).toContain(`configuration '${file}' OK`);
    expect(r.status).toBe(0);
  }

  it("the static bootstrap with the picoseg filter", () => {
    validate(toYaml(staticBootstrap({
      admin: { host: "127.0.0.1", port: 0 },
      wasm: { filename: filterWasmPath() },
      configuration: "picoseg 1\nend\n",
      listeners: [{ listen: { host: "127.0.0.1", port: 10000 }, upstream: { host: "127.0.0.1", port: 5432 } }],
    })), "static.yaml");
  });

  const sidecar = ["sidecar", "--xds", "127.0.0.1:18000", "--listen", "127.0.0.1:15006", "--upstream", "127.0.0.1:5432",
    "--namespace", "payments", "--labels", "app=payments-db", "--print"];

  it("the sidecar bootstrap (standalone ECDS, state of the world)", () => {
    const r = picoseg(sidecar);
    expect(r.status).toBe(0);
    validate(r.stdout, "sidecar.yaml");
  });

  it("the sidecar bootstrap over ADS with DELTA_GRPC and downstream mTLS", () => {
    const r = picoseg([...sidecar, "--ads", "--api", "DELTA_GRPC", "--annotations", "picoseg.io/mode=enforce",
      "--tls-cert", certs.server.certFile, "--tls-key", certs.server.keyFile, "--tls-ca", certs.caFile]);
    expect(r.status).toBe(0);
    validate(r.stdout, "sidecar-ads-tls.yaml");
  });

  it("the sidecar bootstrap printed as JSON", () => {
    const r = picoseg([...sidecar, "--format", "json"]);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { node: { id: string } }).node.id).toContain("payments-db");
    validate(r.stdout, "sidecar.json");
  });

  it("picoseg envoy passes flags through and propagates the exit code", () => {
    const ok = picoseg(["envoy", "--version"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("1.40.0");
    const bad = picoseg(["envoy", "--mode", "validate", "--disable-hot-restart", "-c", join(dir, "missing.yaml")]);
    expect(bad.stderr).toContain("missing.yaml");
    expect(bad.status).toBe(1);
  });
});
