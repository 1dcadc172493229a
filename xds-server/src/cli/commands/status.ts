import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg status: not implemented yet");
    });
}
