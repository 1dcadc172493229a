// The picoseg command as tests run it: from the TypeScript sources through tsx (./run.ts), so a CLI
// test never depends on a fresh `npm run build`.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { errorMessage, waitFor } from "../../xds-server/src/util/index.js";

/** Node arguments that run the CLI: `spawn(process.execPath, [...PICOSEG_CLI, "serve", …])`. */
export const PICOSEG_CLI: readonly string[] = ["--import", "tsx", path.join(import.meta.dirname, "run.ts")];

const execFileAsync = promisify(execFile);

/** `picoseg ARGS…` from the TypeScript sources; rejects on a non-zero exit. */
export function picoseg(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [...PICOSEG_CLI, ...args]);
}

/** `picoseg serve ARGS…` as a child process, as an operator starts it; its addresses as it logs them. */
export class ServeCommand {
  private constructor(
    private readonly child: ChildProcess,
    private readonly log: { text: string },
    /** host:port of the gRPC side. */
    readonly xds: string,
    /** URL of the HTTP side. */
    readonly http: string,
  ) {}

  /** Starts serve and waits (up to 20 s) for the line that names both listening addresses. */
  static async start(args: readonly string[]): Promise<ServeCommand> {
    const child = spawn(process.execPath, [...PICOSEG_CLI, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const log = { text: "" };
    child.stdout!.on("data", (d: Buffer) => (log.text += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (log.text += d.toString()));
    const listening = /xDS on (\S+) .*HTTP on (https?:\/\/\S+),/;
    try {
      const m = await waitFor("serve to start", () => listening.exec(log.text) ?? undefined, 20_000);
      return new ServeCommand(child, log, m[1]!, m[2]!);
    } catch (err) {
      child.kill("SIGKILL");
      throw new Error(`${errorMessage(err)}; it printed:\n${log.text}`);
    }
  }

  /** Everything it printed so far, stdout and stderr. */
  output(): string {
    return this.log.text;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and resolves with the exit code once it has exited. */
  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (!this.running) return Promise.resolve(this.child.exitCode);
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }
}
