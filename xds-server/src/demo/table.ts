// The scenario's table: one row per connection. By default it fits 100 columns (the target by
// name and port, long cells cut in the middle); wide shows every column whole, the target's
// address and the expectation too. Decisions are coloured on a terminal only.
import { colorsFor, type Column, formatTable } from "../util/index.js";
import type { Row } from "./scenario.js";

function columns(): Column[] {
  const c = colorsFor(process.stdout);
  return [
    { head: "#" },
    // When the row is too long, what was sent gives first, the reason last.
    { head: "client", shrink: 2, min: 13 },
    { head: "target", shrink: 2, min: 15 },
    { head: "sent", shrink: 3, min: 14 },
    { head: "decision", style: (d) => (d === "closed" ? c.red(d) : c.green(d)) },
    { head: "reason", shrink: 1, min: 20 },
    { head: "expected", wide: true },
    { head: "ok", style: (ok) => (ok === "yes" ? ok : c.red(c.bold(ok))) },
  ];
}

/** "cart-cache 127.0.0.2:6379" as "cart-cache:6379": the sidecars' addresses are listed above the table. */
const byName = (target: string): string => target.replace(/ \S+:(\d+)$/, ":$1");

/** Renders rows; expectations that carry a note get a footnote mark. */
export function renderTable(rows: readonly Row[], wide = false): string {
  const notes: string[] = [];
  const body = rows.map((r) => {
    let mark = "";
    if (r.note) {
      let i = notes.indexOf(r.note);
      if (i < 0) i = notes.push(r.note) - 1;
      mark = " " + "*".repeat(i + 1);
    }
    const ok = r.ok ? "yes" : wide ? "NO" : `NO, expected ${r.expected}`;
    // The footnote mark goes with the expectation, or with the step when that column is not shown.
    return [r.label + (wide ? "" : mark.trim()), r.client, wide ? r.target : byName(r.target), r.sent, r.decision, r.reason, r.expected + mark, ok];
  });
  const out = formatTable(columns(), body, { wide, rule: true }).trimEnd().split("\n");
  notes.forEach((n, i) => out.push(`${"*".repeat(i + 1)} ${n}`));
  return out.join("\n");
}
