import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg serve: not implemented yet");
    });
}
