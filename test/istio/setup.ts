// Global setup of the Istio tests: the Istio and Kubernetes binaries the project builds from the Go
// module proxy (scripts/install-istio.sh, scripts/install-kube.sh; cache hits after the first
// run), handed to the tests by inject().
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Folder holding pilot-discovery, pilot-agent and istioctl (Istio's bootstrap template beside it). */
    istioBin: string;
    /** Folder holding kube-apiserver and etcd: this istiod needs a Kubernetes API. */
    kubeBin: string;
  }
}

const root = path.resolve(import.meta.dirname, "../..");

/** Runs an install script; its last line of output is the folder of binaries. */
function install(script: string): string {
  const out = execFileSync("bash", [path.join(root, "scripts", script)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 45 * 60_000,
  });
  return out.trim().split("\n").at(-1)!;
}

export default function setup(project: TestProject): void {
  project.provide("istioBin", install("install-istio.sh"));
  project.provide("kubeBin", install("install-kube.sh"));
}
