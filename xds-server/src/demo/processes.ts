// Every child process the demo starts is registered here and killed on every path out:
// normal stop, an error, Ctrl-C / SIGTERM, and (synchronously, as a last resort) process exit.
import { spawn, type ChildProcess } from "node:child_process";
import { stopProcess } from "../util/index.js";

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

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((c) => stopProcess(c)));
    this.live.clear();
  }

  dispose(): void {
    process.off("exit", this.onExit);
  }
}
