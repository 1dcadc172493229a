// Running the installed Envoy as a child process from the CLI: stdio inherited, signals forwarded,
// exit status propagated as a shell would report it.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { envoyBinaryPath } from "./install.js";

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1"];

/** Exit code for a child that ended by signal, as shells report it (128 + signal number). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const num = signal ? constants.signals[signal] : undefined;
  return num !== undefined ? 128 + num : 1;
}

/**
 * Runs Envoy with args in the foreground and resolves with its exit code. Signals the CLI receives
 * are passed to Envoy (Ctrl-C stops Envoy, which then exits, and so does the CLI).
 */
export function runEnvoyForeground(args: readonly string[], binary: string = envoyBinaryPath()): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args], { stdio: "inherit" });
    const handlers = new Map<NodeJS.Signals, () => void>();
    for (const sig of FORWARDED) {
      const h = (): void => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      handlers.set(sig, h);
      process.on(sig, h);
    }
    const cleanup = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.once("error", (err) => {
      cleanup();
      reject(err);
    });
    child.once("exit", (code, signal) => {
      cleanup();
      resolve(exitCodeOf(code, signal));
    });
  });
}
