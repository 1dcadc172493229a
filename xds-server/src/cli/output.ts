// How every command that prints data prints it: one `-o, --output` flag with the same formats
// everywhere (table, the default; wide; json; yaml), and one table writer whose default fits a
// terminal of 100 columns (`-o wide` shows every column whole). Old per-command flags (`--json`,
// `--format`) map onto it, so scripts written against them keep working.
import { type Command, Option } from "commander";
import { stringify } from "yaml";
export { colorsFor, type Column, cut, formatTable, TABLE_WIDTH, wrap } from "../util/index.js";

export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * Adds `-o, --output <format>` to a command. `extra` formats are the command's own (report's
 * `html`); `fallback` is the default when a command has no table (learn writes YAML).
 */
export function addOutputOption<F extends string = OutputFormat>(
  command: Command,
  options: { formats?: readonly F[]; fallback?: F } = {},
): Command {
  const formats = options.formats ?? (OUTPUT_FORMATS as readonly string[]);
  return command.addOption(
    new Option("-o, --output <format>", "output format").choices([...formats]).default(options.fallback ?? "table"),
  );
}

/** A hidden old flag kept as an alias of `-o FORMAT` (e.g. status's `--json`). */
export function aliasFlag(flags: string, format: string): Option {
  return new Option(flags, `same as -o ${format}`).hideHelp();
}

/** JSON or YAML of a value; undefined for the table formats, which each command writes itself. */
export function serialized(format: string, data: unknown): string | undefined {
  if (format === "json") return `${JSON.stringify(data, null, 2)}\n`;
  if (format === "yaml") return stringify(data, { lineWidth: 0 });
  return undefined;
}

/** Prints `data` as JSON or YAML, or the command's table (with every column for `wide`). */
export function printData(format: string, data: unknown, table: (wide: boolean) => string): void {
  process.stdout.write(serialized(format, data) ?? table(format === "wide"));
}

