// Where the checkout's own files are, found from this module's location so that the same code works
// from the TypeScript sources (tsx, vitest) and from dist/ (the CLI).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The checkout's root: the nearest ancestor of this module holding package.json named picoseg.
 * Works from the sources (tsx, vitest) and from dist/ (the CLI).
 */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      const parsed: unknown = JSON.parse(readFileSync(pkg, "utf8"));
      if (typeof parsed === "object" && parsed !== null && (parsed as { name?: unknown }).name === "picoseg") {
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`picoseg: no picoseg package.json above ${from}`);
    dir = parent;
  }
}

/** The release build of the filter, as `npm run build:filter` writes it. */
export function filterWasmPath(root: string = repoRoot()): string {
  return join(root, "filter", "build", "picoseg.wasm");
}
