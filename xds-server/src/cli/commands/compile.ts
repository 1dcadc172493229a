import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg compile: not implemented yet");
    });
}
