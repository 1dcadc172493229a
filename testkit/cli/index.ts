// The picoseg command as tests run it: from the TypeScript sources through tsx (./run.ts), so a CLI
// test never depends on a fresh `npm run build`.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

/** Node arguments that run the CLI: `spawn(process.execPath, [...PICOSEG_CLI, "serve", …])`. */
export const PICOSEG_CLI: readonly string[] = ["--import", "tsx", path.join(import.meta.dirname, "run.ts")];

const execFileAsync = promisify(execFile);

/** `picoseg ARGS…` from the TypeScript sources; rejects on a non-zero exit. */
export function picoseg(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [...PICOSEG_CLI, ...args]);
}
