import type { Command } from "commander";
import { duplicateSegmentErrors, loadPolicyFiles, type PolicyLoadResult, validatePolicyText } from "../../policy/index.js";
import { formatPolicyError, type PolicyError } from "../../../../api/status.js";
import { addOutputOption, serialized } from "../output.js";

/** How standard input is named in messages (`validate -`). */
const STDIN = "<stdin>";

/**
 * `picoseg validate PATH…`: files and directories (recursively, *.yaml / *.yml), `-` for standard
 * input. Every error goes to stderr as `file:line: field: message`, paths as given; exit 1 when
 * there is any. Otherwise a one-line summary on stderr and exit 0. Warnings (`file:line: field:
 * warning: …`) never change the exit code; documents of other APIs are skipped with a note.
 * Nothing on stdout, but with `-o json|yaml`: then the whole result, one object per error.
 */
export function registerValidate(program: Command): void {
  const command = program
    .command("validate")
    .description("validate PicoSegment files and directories (- reads standard input); print every error as file:line: field: message")
    .argument("<paths...>", "policy files or directories, or - for standard input");
  addOutputOption(command).action(async (paths: string[], flags: { output: string }) => {
    const result = await load(paths);
    if (result.errors.length > 0) process.exitCode = 1;
    const data = serialized(flags.output, {
      valid: result.errors.length === 0,
      segments: result.segments.length,
      files: result.files,
      errors: result.errors.map(plain),
      warnings: result.warnings.map(plain),
      notes: result.notes.map(plain),
    });
    if (data !== undefined) return void process.stdout.write(data);
    for (const error of result.errors) process.stderr.write(`${formatPolicyError(error)}\n`);
    for (const warning of result.warnings) process.stderr.write(`${formatPolicyError({ ...warning, message: `warning: ${warning.message}` })}\n`);
    for (const note of result.notes) process.stderr.write(`${formatPolicyError({ ...note, message: `note: ${note.message}` })}\n`);
    if (result.errors.length > 0) return;
    const n = result.segments.length;
    const f = result.files.length;
    process.stderr.write(`${n} segment${n === 1 ? "" : "s"} valid in ${f} file${f === 1 ? "" : "s"}\n`);
  });
}

/** The paths, `-` read from standard input once, in the order given. */
async function load(paths: readonly string[]): Promise<PolicyLoadResult> {
  if (!paths.includes("-")) return loadPolicyFiles(paths);
  const stdin = validatePolicyText(await readStdin(), STDIN);
  const files = await loadPolicyFiles(paths.filter((p) => p !== "-"));
  const segments = [...stdin.segments, ...files.segments];
  return {
    segments,
    // Each side is free of duplicates; a segment on both is one too.
    errors: [...stdin.errors, ...files.errors, ...duplicateSegmentErrors(segments)],
    warnings: [...stdin.warnings, ...files.warnings],
    notes: [...stdin.notes, ...files.notes],
    files: [STDIN, ...files.files],
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** An error as scripts read it: where (file, line), which field, what. */
function plain(e: PolicyError): { file: string; line: number; field: string; message: string } {
  return { file: e.file, line: e.line, field: e.field, message: e.message };
}
