import type { Command } from "commander";

// Placeholder until the command lands; it fails loudly rather than pretending.
export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("not implemented yet")
    .allowUnknownOption()
    .action(() => {
      throw new Error("picoseg validate: not implemented yet");
    });
}
