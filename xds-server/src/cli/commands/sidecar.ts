import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerSidecar(program: Command): void {
  program
    .command("sidecar")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg sidecar: not implemented yet");
    });
}
