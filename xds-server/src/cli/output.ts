// How every command that prints data prints it: one `-o, --output` flag with the same formats
// everywhere (table, the default; wide; json; yaml), and one table writer whose default fits a
// terminal of 100 columns (`-o wide` shows every column whole). Old per-command flags (`--json`,
// `--format`) map onto it, so scripts written against them keep working.
import { type Command, Option } from "commander";
import { stringify } from "yaml";

export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The width the default table output fits in. */
export const TABLE_WIDTH = 100;

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

/** One column of a table: its heading, and whether the default output may shorten its cells. */
export interface Column {
  head: string;
  /** Cells may be cut (with "…") when the row would pass the width; ids and labels, not states. */
  shrink?: boolean;
  /** Shown with `-o wide` only. */
  wide?: boolean;
}

/**
 * Left-aligned columns two spaces apart. Default: wide-only columns left out, and the
 * shrinkable ones cut in their middle, widest first, until a row fits `width`. Wide: everything,
 * whole.
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], opts: { wide?: boolean; width?: number } = {}): string {
  const keep = columns.map((c, i) => [c, i] as const).filter(([c]) => opts.wide === true || c.wide !== true);
  const head = keep.map(([c]) => c.head);
  const body = rows.map((r) => keep.map(([, i]) => r[i] ?? ""));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  if (opts.wide !== true) fitWidths(widths, keep.map(([c]) => c.shrink === true), head.map((h) => Math.max(h.length, 8)), opts.width ?? TABLE_WIDTH);
  const line = (cells: readonly string[]): string => cells.map((c, i) => cut(c, widths[i]!).padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), ...body.map(line)].join("\n") + "\n";
}

/** Narrows shrinkable columns (the widest first, never below `floor`) until the sum fits. */
function fitWidths(widths: number[], shrinkable: readonly boolean[], floor: readonly number[], width: number): void {
  const total = (): number => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      if (shrinkable[i] && widths[i]! > floor[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest < 0) return; // nothing left to cut: the row stays as long as its fixed columns
    widths[widest]!--;
  }
}

/** `text` in at most `width` characters: the start and the end kept, the middle replaced by "…". */
export function cut(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  const tail = Math.floor((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${tail > 0 ? text.slice(-tail) : ""}`;
}

/**
 * Text whose lines fit `width`: a longer line is broken at spaces, its continuation indented two
 * more than the line; a word longer than the width (a URL, a path) is cut, never lost — it goes
 * on over as many lines as it needs.
 */
export function wrap(text: string, width = TABLE_WIDTH): string {
  const out: string[] = [];
  for (const line of text.replace(/\n$/, "").split("\n")) {
    if (line.length <= width) {
      out.push(line);
      continue;
    }
    const indent = " ".repeat(Math.min(line.length - line.trimStart().length + 2, Math.floor(width / 2)));
    let rest = line;
    let first = true;
    while (rest.length > 0) {
      const room = first ? width : width - indent.length;
      if (rest.length <= room) {
        out.push(first ? rest : indent + rest);
        break;
      }
      let at = rest.lastIndexOf(" ", room);
      if (at <= 0) at = room; // one long word: cut it
      out.push((first ? "" : indent) + rest.slice(0, at).trimEnd());
      rest = rest.slice(at).trimStart();
      first = false;
    }
  }
  return `${out.join("\n")}\n`;
}
