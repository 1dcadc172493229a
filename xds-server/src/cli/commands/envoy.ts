import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerEnvoy(program: Command): void {
  program
    .command("envoy")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg envoy: not implemented yet");
    });
}
