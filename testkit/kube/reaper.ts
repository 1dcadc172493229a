// The k8s harness's child processes (etcd, kube-apiserver, picoseg serve) are stopped by the
// tests' afterAll; this is the last resort when the test process exits first (a crash, a
// timeout), so that no control plane outlives its test run.
import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** Tracks `child` until it exits. */
export function reap(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}
