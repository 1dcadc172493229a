import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg demo: not implemented yet");
    });
}
