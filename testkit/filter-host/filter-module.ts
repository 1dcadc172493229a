// Where the filter builds are, and their compiled modules (compiled once per file and process).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
export const RELEASE_WASM = path.resolve(here, "../../filter/build/picoseg.wasm");
export const DEBUG_WASM = path.resolve(here, "../../filter/build/picoseg.debug.wasm");

const moduleCache = new Map<string, WebAssembly.Module>();

export function compiled(file: string): WebAssembly.Module {
  let m = moduleCache.get(file);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(file));
    moduleCache.set(file, m);
  }
  return m;
}
