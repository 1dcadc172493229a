// Minimal proxy-wasm probe filters (test/integration/probe/*.as, AssemblyScript without the SDK)
// check facts about Envoy itself, independently of the picoseg filter. The sources carry a .as
// extension so tsc leaves them alone; they are copied to a temp folder as .ts and built there (away
// from the project's asconfig.json), with the stub runtime and no abort import.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot, staticBootstrap, type ListenerSpec } from "../../../envoy/index.js";
import { Envoy, type StartEnvoyOptions } from "../../../tools/envoy-harness/envoy.js";

const PROBE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "probe");

/** Builds probe/<name>.as; returns the .wasm path and a cleanup. */
export function buildProbe(name: string): { wasm: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "picoseg-it-probe-"));
  copyFileSync(join(PROBE_DIR, `${name}.as`), join(dir, `${name}.ts`));
  const wasm = join(dir, `${name}.wasm`);
  execFileSync(join(repoRoot(), "node_modules", ".bin", "asc"),
    [`${name}.ts`, "--runtime", "stub", "-O3", "--use", "abort=", "--binaryFile", wasm],
    { cwd: dir, timeout: 60_000, stdio: "pipe" });
  return { wasm, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ProbeEnvoy {
  envoy: Envoy;
  /** Stops Envoy and removes the built probe. */
  stop(): Promise<void>;
}

/** Builds probe/<name>.as and starts an Envoy that runs it (VM `<name>-probe`, no configuration) on one listener. */
export async function startProbeEnvoy(name: string, listener: ListenerSpec, opts: StartEnvoyOptions = {}): Promise<ProbeEnvoy> {
  const probe = buildProbe(name);
  try {
    const envoy = await Envoy.start(staticBootstrap({
      admin: { host: "127.0.0.1", port: 0 },
      wasm: { filename: probe.wasm, vmId: `${name}-probe` },
      configuration: "",
      listeners: [listener],
    }), opts);
    return {
      envoy,
      async stop() {
        await envoy.stop();
        probe.cleanup();
      },
    };
  } catch (err) {
    probe.cleanup();
    throw err;
  }
}
