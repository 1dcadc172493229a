// `npx picoseg …` in a checkout, as the README says it. npm runs a project's own bin by installing
// the checkout into its npx cache, and that install runs `prepare`: the Envoy install and the
// whole build, in silence, on the first call, rewriting filter/build/picoseg.wasm under a running
// demo. scripts/prepare.sh does nothing under `npm exec`; the first call is then as fast as the rest.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { filterWasmPath, repoRoot } from "../../xds-server/src/util/index.js";

const run = promisify(execFile);

describe("npx picoseg in the checkout", () => {
  it("runs the checkout's CLI as installed: no prepare, no rebuild of the filter", async () => {
    const before = statSync(filterWasmPath()).mtimeMs;
    const distBefore = statSync(path.join(repoRoot(), "dist", "xds-server", "src", "cli", "main.js")).mtimeMs;
    // An empty npm cache, as on a newcomer's machine: an earlier npx install of the checkout would hide the problem.
    const cache = mkdtempSync(path.join(tmpdir(), "picoseg-npm-cache-"));
    const { stdout, stderr } = await run("npx", ["--loglevel", "info", "picoseg", "version", "-o", "json"], {
      cwd: repoRoot(),
      timeout: 120_000,
      env: { ...process.env, npm_config_cache: cache },
    }).finally(() => rmSync(cache, { recursive: true, force: true }));
    // This checkout's CLI, not a copy npx installed into its cache (which would name its own module).
    expect((JSON.parse(stdout) as { filter: { path: string } }).filter.path).toBe(filterWasmPath());
    // npm still runs prepare for its npx install of the checkout; prepare sees `exec` and builds nothing.
    expect(stderr).toMatch(/prepare \{ code: 0/);
    expect(statSync(filterWasmPath()).mtimeMs).toBe(before);
    expect(statSync(path.join(repoRoot(), "dist", "xds-server", "src", "cli", "main.js")).mtimeMs).toBe(distBefore);
  }, 150_000);
});
