import type { Command } from "commander";
import { runEnvoyForeground } from "../../bootstrap/index.js";

// `picoseg envoy ARGS…`: the project's pinned Envoy, so no script needs the wheel's path. Every
// argument after `envoy` goes to Envoy untouched — including --help and --version.
export function registerEnvoy(program: Command): void {
  // Options after a subcommand belong to the subcommand (the root has none of its own but --help).
  program.enablePositionalOptions();
  program
    .command("envoy")
    .description("run the Envoy that the project installed (all arguments are passed to Envoy)")
    .argument("[args...]", "Envoy's own arguments, e.g. --version or -c bootstrap.yaml")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .action(async (args: string[]) => {
      process.exitCode = await runEnvoyForeground(args);
    });
}
