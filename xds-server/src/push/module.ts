// Where proxies get the filter's module from: their own disk (local, the default), the bytes inside
// every filter config (inline), or this server's HTTP side with its sha256 (remote). See
// xds/README.md "The module: local, inline or remote".
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { filterWasmPath } from "../util/index.js";
import { WASM_PATH } from "../../../api/resources.js";
import type { WasmModuleSource } from "./resources.js";

export interface ModuleBytes {
  bytes: Uint8Array;
  sha256: string;
}

/** filter/build/picoseg.wasm of this checkout (works from src/ via tsx and from dist/). */
export const defaultWasmPath = (): string => filterWasmPath();

/**
 * The module's bytes and sha256, for the HTTP side and for inline or remote configs. Undefined when
 * the file cannot be read and neither needs it (local configs name the path; Envoy reads it).
 */
export function readModule(file: string, required: boolean): ModuleBytes | undefined {
  try {
    const bytes = readFileSync(file);
    return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
  } catch (err) {
    if (required) throw new Error(`cannot read the filter module ${file}: ${(err as Error).message}`);
    return undefined;
  }
}

export interface ModuleChoice {
  wasmPath: string;
  bytes: ModuleBytes | undefined;
  /** Fetch it from this server: the Envoy cluster that reaches it, and a base URL (default: this server). */
  remote?: { cluster: string; baseUrl?: string };
  inline?: boolean;
}

/** What the filter configs say about the module; `httpUrl` is this server's HTTP side. */
export function moduleSource(choice: ModuleChoice, httpUrl: string): WasmModuleSource {
  if (choice.remote) {
    if (!choice.bytes) throw new Error(`--remote-wasm: no module at ${choice.wasmPath}`);
    const base = choice.remote.baseUrl ?? httpUrl;
    return { kind: "remote", uri: `${base}${WASM_PATH}`, cluster: choice.remote.cluster, sha256: choice.bytes.sha256 };
  }
  if (choice.inline && choice.bytes) return { kind: "inline", bytes: choice.bytes.bytes, sha256: choice.bytes.sha256 };
  return { kind: "local", filename: choice.wasmPath };
}

/** The module as the start-up line names it. */
export function describeModule(module: WasmModuleSource): string {
  switch (module.kind) {
    case "local":
      return module.filename;
    case "inline":
      return `inline (${module.bytes.length} bytes, sha256 ${module.sha256.slice(0, 12)})`;
    case "remote":
      return `${module.uri} via cluster ${module.cluster}`;
  }
}
