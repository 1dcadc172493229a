// Text for a terminal: tables whose default fits 100 columns (long cells cut in the middle,
// every column whole when asked for wide), lines wrapped at spaces, shell commands wrapped with
// a continuation backslash, and colours only where they are seen (a TTY, no NO_COLOR).
import { createColors } from "picocolors";

/** The width the default output fits in. */
export const TABLE_WIDTH = 100;

/** One column of a table: its heading, and whether the default output may shorten its cells. */
export interface Column {
  head: string;
  /** Applied to a cell after padding (colour codes take no width). */
  style?: (cell: string) => string;
  /**
   * Cells may be cut (with "…") when the row would pass the width: ids and labels, not states.
   * A number ranks the columns: the highest is cut first (true is 1), each down to `min`.
   */
  shrink?: boolean | number;
  /** The narrowest a cut may leave the column (default: its heading, at least 8). */
  min?: number;
  /** Shown with `-o wide` only. */
  wide?: boolean;
}

/**
 * Left-aligned columns two spaces apart. Default: wide-only columns left out, and the
 * shrinkable ones cut in their middle, widest first, until a row fits `width`. Wide: everything,
 * whole.
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  opts: { wide?: boolean; width?: number; /** a line of dashes under the heading */ rule?: boolean } = {},
): string {
  const keep = columns.map((c, i) => [c, i] as const).filter(([c]) => opts.wide === true || c.wide !== true);
  const head = keep.map(([c]) => c.head);
  const body = rows.map((r) => keep.map(([, i]) => r[i] ?? ""));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const rank = keep.map(([c]) => (c.shrink === true ? 1 : typeof c.shrink === "number" ? c.shrink : 0));
  const floor = keep.map(([c]) => c.min ?? Math.max(c.head.length, 8));
  if (opts.wide !== true) fitWidths(widths, rank, floor, opts.width ?? TABLE_WIDTH);
  const pad = (cells: readonly string[], style: boolean): string =>
    cells
      .map((c, i) => {
        const cell = cut(c, widths[i]!);
        const last = i === cells.length - 1;
        const padded = last ? cell : cell.padEnd(widths[i]!);
        const styler = style ? keep[i]![0].style : undefined;
        return styler ? styler(cell) + padded.slice(cell.length) : padded;
      })
      .join("  ")
      .trimEnd();
  const rule = opts.rule === true ? [widths.map((w) => "-".repeat(w)).join("  ")] : [];
  return [pad(head, false), ...rule, ...body.map((r) => pad(r, true))].join("\n") + "\n";
}

/** Narrows shrinkable columns (highest rank first, then the widest; never below `floor`) until the sum fits. */
function fitWidths(widths: number[], rank: readonly number[], floor: readonly number[], width: number): void {
  const total = (): number => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      if (rank[i]! <= 0 || widths[i]! <= floor[i]!) continue;
      if (widest < 0 || rank[i]! > rank[widest]! || (rank[i] === rank[widest] && widths[i]! > widths[widest]!)) widest = i;
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

/**
 * A shell command in lines of at most `width`: broken at spaces, each line but the last ending
 * in " \\", so that it still pastes into a shell as one command.
 */
export function wrapCommand(command: string, width = TABLE_WIDTH, indent = "    "): string {
  const lead = /^ */.exec(command)![0]; // the line's own indentation stays
  const lines: string[] = [];
  let line = lead;
  for (const word of command.slice(lead.length).split(" ")) {
    const fresh = line.trim() === "";
    const candidate = fresh ? line + word : `${line} ${word}`;
    if (!fresh && candidate.length + 2 > width) {
      lines.push(`${line} \\`);
      line = `${indent}${word}`;
    } else line = candidate;
  }
  lines.push(line);
  return lines.join("\n");
}

/** Colours for one stream: on only when it is a terminal, NO_COLOR is unset and TERM is not dumb. */
export function colorsFor(stream: { isTTY?: boolean }): ReturnType<typeof createColors> {
  const env = process.env;
  return createColors(stream.isTTY === true && !env["NO_COLOR"] && env["TERM"] !== "dumb");
}
