// The scenario's table: one row per connection, plain text that reads in any terminal and log.
import type { Row } from "./scenario.js";

const HEAD = ["#", "client", "target", "sent", "decision", "reason (from the sidecar)", "expected", "ok"] as const;

function cells(r: Row, noteMark: string): string[] {
  return [r.label, r.client, r.target, r.sent, r.decision, r.reason, r.expected + noteMark, r.ok ? "yes" : "NO"];
}

/** Renders rows; expectations that carry a note get a footnote mark. */
export function renderTable(rows: readonly Row[]): string {
  const notes: string[] = [];
  const body = rows.map((r) => {
    let mark = "";
    if (r.note) {
      let i = notes.indexOf(r.note);
      if (i < 0) i = notes.push(r.note) - 1;
      mark = " " + "*".repeat(i + 1);
    }
    return cells(r, mark);
  });
  const all = [[...HEAD], ...body];
  const widths = HEAD.map((_, c) => Math.max(...all.map((row) => (row[c] ?? "").length)));
  const line = (row: string[]): string => row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const out = [line(all[0] ?? []), rule, ...body.map(line)];
  notes.forEach((n, i) => out.push(`${"*".repeat(i + 1)} ${n}`));
  return out.join("\n");
}
