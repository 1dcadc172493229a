// Builds bench/filter/sdk-variant.as (the proxy-wasm AssemblyScript SDK as published,
// with its own proxy_on_context_create) into .tmp/bench-sdk/, once per source version.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, "../..");
const SOURCE = path.join(here, "sdk-variant.as");

/** Path of the compiled SDK variant; compiles it when the source (or the compiler) changed. */
export function sdkVariantWasm(log: (s: string) => void): string {
  const asc = path.join(REPO, "node_modules", ".bin", "asc");
  const ascVersion = (JSON.parse(readFileSync(path.join(REPO, "node_modules", "assemblyscript", "package.json"), "utf8")) as { version: string }).version;
  const hash = createHash("sha256").update(readFileSync(SOURCE)).update(ascVersion).digest("hex").slice(0, 12);
  // Inside the repo (ignored .tmp/) so that asc finds @solo-io/proxy-runtime in node_modules;
  // a folder of its own so that it does not read the project's asconfig.json.
  const dir = path.join(REPO, ".tmp", "bench-sdk");
  const wasm = path.join(dir, `sdk-variant-${hash}.wasm`);
  if (existsSync(wasm)) return wasm;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(SOURCE, path.join(dir, "index.ts"));
  log(`compiling the SDK variant with asc ${ascVersion} (once; cached in ${path.relative(REPO, dir)}/) …`);
  execFileSync(asc, ["index.ts", "--runtime", "full", "-O3", "--use", "abort=abort_proc_exit", "--binaryFile", wasm], {
    cwd: dir, timeout: 180_000, stdio: "pipe",
  });
  return wasm;
}
