// Global setup of the integration project: builds (first run) or finds (cached) kube-apiserver and
// etcd with scripts/install-kube.sh, so that `npm ci && npm test` stays the whole recipe. The
// first build takes minutes; a cached run, well under a second.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../xds-server/src/util/index.js";

export default function setup(): void {
  const out = execFileSync("bash", [join(repoRoot(), "scripts", "install-kube.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 30 * 60_000,
  });
  const bin = out.trim().split("\n").pop() ?? "";
  if (!bin) throw new Error("install-kube.sh printed no bin folder");
  // Test workers start after global setup and inherit this environment.
  process.env["PICOSEG_KUBE_BIN"] = bin;
}
