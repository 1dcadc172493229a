// Global setup of the Istio tests: the Istio binaries the project builds from the Go module proxy
// (scripts/install-istio.sh; a cache hit after the first run), handed to the tests by inject().
// The Kubernetes API's binaries come from the integration project's setup (k8s/global-setup.ts).
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Folder holding pilot-discovery, pilot-agent and istioctl (Istio's bootstrap template beside it). */
    istioBin: string;
  }
}

const root = path.resolve(import.meta.dirname, "../..");

export default function setup(project: TestProject): void {
  const out = execFileSync("bash", [path.join(root, "scripts", "install-istio.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 45 * 60_000,
  });
  // Its last line of output is the folder of binaries.
  project.provide("istioBin", out.trim().split("\n").at(-1)!);
}
