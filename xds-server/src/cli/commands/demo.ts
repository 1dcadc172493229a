import type { Command } from "commander";
import { defined } from "../../util/index.js";
import { addOutputOption } from "../output.js";

// `picoseg demo` (npm start): the xDS server, demo services and real Envoy sidecars on loopback, a
// scripted traffic scenario with its table of decisions, a hot policy change, then a running mesh.
export function registerDemo(program: Command): void {
  const command = program
    .command("demo")
    .description("xDS server + Envoy sidecars + demo services on loopback, a scripted scenario and a hot policy change")
    .option("--once", "run the scenario and exit: 0 only if every decision was the expected one")
    .option("--keep", "leave the working directory (policies, certificates, Envoy logs) in place")
    .option("--wasm <file>", "the filter module to load (default: filter/build/picoseg.wasm)");
  addOutputOption(command, { formats: ["table", "wide"] }).action(async (flags: { once?: boolean; keep?: boolean; wasm?: string; output: string }) => {
      const { runDemo } = await import("../../demo/index.js"); // the demo's services load only for it
      const code = await runDemo({
        once: flags.once === true,
        keepDir: flags.keep === true,
        wide: flags.output === "wide",
        ...defined({ wasmPath: flags.wasm }),
      });
      process.exitCode = code;
      // gRPC and fetch keep-alive handles must not hold the process open after the cleanup.
      setTimeout(() => process.exit(code), 1000).unref();
    });
}
