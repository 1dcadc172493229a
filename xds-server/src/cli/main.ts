import tab from "@bomb.sh/tab/commander";
import { Command } from "commander";
import { TABLE_WIDTH } from "./output.js";
import { registerAudit } from "./commands/audit.js";
import { registerReport } from "./commands/report.js";
import { registerCompile } from "./commands/compile.js";
import { registerDemo } from "./commands/demo.js";
import { registerEnvoy } from "./commands/envoy.js";
import { registerServe } from "./commands/serve.js";
import { registerSidecar } from "./commands/sidecar.js";
import { registerStatus } from "./commands/status.js";
import { registerValidate } from "./commands/validate.js";
import { registerLearn } from "./commands/learn.js";
import { registerWhatIf } from "./commands/what-if.js";
import { registerVersion } from "./commands/version.js";
import { registerDescribe } from "./commands/describe.js";
import { registerProxyConfig } from "./commands/proxy-config.js";

/** Builds the `picoseg` command line; each command lives in commands/<name>.ts. */
export function buildProgram(): Command {
  const program = new Command("picoseg")
    .description("pico-segmentation for Envoy and Istio: policy tools, xDS server, local sidecars")
    .showHelpAfterError()
    // Help fits 100 columns even on a wider terminal (inherited by every command added below).
    .configureHelp({ helpWidth: Math.min(process.stdout.columns || 80, TABLE_WIDTH) });
  registerServe(program);
  registerValidate(program);
  registerCompile(program);
  registerEnvoy(program);
  registerSidecar(program);
  registerStatus(program);
  registerDemo(program);
  registerAudit(program);
  registerReport(program);
  registerLearn(program);
  registerWhatIf(program);
  registerDescribe(program);
  registerProxyConfig(program);
  registerVersion(program);
  // `picoseg completion bash|zsh|fish|powershell` prints the script; the script asks the command
  // itself (`picoseg complete -- ARGS`, hidden) for the words, so completion follows this tree.
  tab(program, { completionCommandName: "completion" });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
