// Minimal proxy-wasm filters that check facts about Envoy itself (fact-filters/*.as, AssemblyScript
// without the SDK), independently of the picoseg filter. The sources carry a .as
// extension so tsc leaves them alone; they are copied to a temp folder as .ts and built there (away
// from the project's asconfig.json), with the stub runtime and no abort import.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { staticBootstrap, type ListenerSpec } from "../../xds-server/src/bootstrap/index.js";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { Envoy, type StartEnvoyOptions } from "./envoy.js";

const FACT_FILTERS = join(dirname(fileURLToPath(import.meta.url)), "fact-filters");

/** Builds fact-filters/<name>.as; returns the .wasm path and a cleanup. */
export function buildFactFilter(name: string): { wasm: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "picoseg-it-probe-"));
  copyFileSync(join(FACT_FILTERS, `${name}.as`), join(dir, `${name}.ts`));
  const wasm = join(dir, `${name}.wasm`);
  execFileSync(join(repoRoot(), "node_modules", ".bin", "asc"),
    [`${name}.ts`, "--runtime", "stub", "-O3", "--use", "abort=", "--binaryFile", wasm],
    { cwd: dir, timeout: 60_000, stdio: "pipe" });
  return { wasm, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface FactFilterEnvoy {
  envoy: Envoy;
  /** Stops Envoy and removes the built probe. */
  stop(): Promise<void>;
}

/** Builds fact-filters/<name>.as and starts an Envoy that runs it (VM `<name>-probe`, no configuration) on one listener. */
export async function startFactFilterEnvoy(name: string, listener: ListenerSpec, opts: StartEnvoyOptions = {}): Promise<FactFilterEnvoy> {
  const probe = buildFactFilter(name);
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
