// Stopping a child process politely, then firmly: the demo's processes and the integration
// harness's Envoys end the same way.
import type { ChildProcess } from "node:child_process";

/** SIGTERM, then SIGKILL after graceMs; resolves once the child has exited (bounded). */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref());
  if (!(await Promise.race([gone.then(() => true), timer]))) {
    child.kill("SIGKILL");
    await Promise.race([gone, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
  }
}
