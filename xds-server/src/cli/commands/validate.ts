import type { Command } from "commander";
import { loadPolicyFiles } from "../../policy/index.js";
import { formatPolicyError } from "../../../../api/status.js";

/**
 * `picoseg validate PATH…`: files and directories (recursively, *.yaml / *.yml). Every error
 * goes to stderr as `file:line: field: message`, paths as given; exit 1 when there is any.
 * Otherwise a one-line summary on stderr and exit 0. Warnings (`file:line: field: warning: …`)
 * never change the exit code. Nothing is printed on stdout.
 */
export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("validate PicoSegment files and directories; print every error as file:line: field: message")
    .argument("<paths...>", "policy files or directories")
    .action(async (paths: string[]) => {
      const result = await loadPolicyFiles(paths);
      for (const error of result.errors) process.stderr.write(`${formatPolicyError(error)}\n`);
      for (const warning of result.warnings) process.stderr.write(`${formatPolicyError({ ...warning, message: `warning: ${warning.message}` })}\n`);
      if (result.errors.length > 0) {
        process.exitCode = 1;
        return;
      }
      const n = result.segments.length;
      const f = result.files.length;
      process.stderr.write(`${n} segment${n === 1 ? "" : "s"} valid in ${f} file${f === 1 ? "" : "s"}\n`);
    });
}
