// Every child process the demo starts is registered here and killed on every path out:
// normal stop, an error, Ctrl-C / SIGTERM, and (synchronously, as a last resort) process exit.
import { spawn, type ChildProcess } from "node:child_process";

export class ProcessGroup {
  private readonly live = new Set<ChildProcess>();
  private readonly onExit = (): void => {
    for (const p of this.live) p.kill("SIGKILL");
  };

  constructor() {
    process.on("exit", this.onExit);
  }

  spawn(command: string, args: readonly string[]): ChildProcess {
    const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.live.add(child);
    child.once("exit", () => this.live.delete(child));
    child.once("error", () => this.live.delete(child));
    return child;
  }

  /** SIGTERM, then SIGKILL after graceMs, for one child; resolves once it has exited (bounded). */
  static async stop(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref());
    if (!(await Promise.race([gone.then(() => true), timer]))) {
      child.kill("SIGKILL");
      await Promise.race([gone, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((c) => ProcessGroup.stop(c)));
    this.live.clear();
  }

  dispose(): void {
    process.off("exit", this.onExit);
  }
}
