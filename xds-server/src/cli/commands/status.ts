import type { Command } from "commander";
import type { ProxyStatus, StatusReport } from "../../../../api/status.js";
import { addOutputOption, aliasFlag, colorsFor, type Column, formatTable, printData, wrap } from "../output.js";
import { addServerOptions, getJson, type ServerFlags } from "../server.js";

/** Versions are content hashes: 8 hex digits tell them apart in a table; -o wide shows them whole. */
const shortVersion = (v: string | undefined, wide: boolean): string => (v ? (wide ? v : v.slice(0, 8)) : "-");

function workloadText(p: ProxyStatus): string {
  const labels = Object.entries(p.workload.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return `${p.workload.namespace}${p.workload.name ? `/${p.workload.name}` : ""}${labels ? ` {${labels}}` : ""}`;
}

/** One state word per resource: where the proxy stands against what it should have. */
export function stateOf(r: ProxyStatus["resources"][number]): string {
  if (r.nack && r.nack.version === r.sent) return "NACKED";
  if (r.acked !== undefined && r.acked === r.current) return "in sync";
  if (r.sent !== undefined && r.sent === r.current) return "pending ACK";
  return r.sent === undefined ? "not sent" : "stale";
}

/** Green when in sync, red when NACKed, yellow in between: only on a terminal (output.ts). */
function stateStyle(state: string): string {
  const c = colorsFor(process.stdout);
  return state === "in sync" ? c.green(state) : state === "NACKED" ? c.red(state) : state === "-" ? state : c.yellow(state);
}

const COLUMNS: readonly Column[] = [
  { head: "NODE", shrink: true },
  { head: "WORKLOAD", shrink: true },
  { head: "STREAM" },
  { head: "SEGMENTS", shrink: true },
  { head: "RESOURCE" },
  { head: "CURRENT" },
  { head: "SENT" },
  { head: "ACKED" },
  { head: "STATE", style: stateStyle },
];

/** The status table, then what needs an operator's eye (NACKs, warnings, notices, refusals). */
export function formatStatus(report: StatusReport, wide = false): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const p of report.proxies) {
    const stream = p.streams.map((s) => `${s.service}/${s.protocol}`).join(",") || "-";
    const segs = p.segments.join(",") || "(none)";
    const resources = p.resources.length ? p.resources : [{ name: "-" }];
    for (const r of resources) {
      const v = (x: string | undefined): string => shortVersion(x, wide);
      rows.push([p.nodeId, workloadText(p), stream, segs, r.name, v(r.current), v(r.sent), v(r.acked), r.name === "-" ? "-" : stateOf(r)]);
      if (r.nack) notes.push(`${p.nodeId} ${r.name}: NACK of ${v(r.nack.version)} at ${new Date(r.nack.at).toISOString()}: ${r.nack.detail}`);
    }
    for (const w of p.warnings) notes.push(`${p.nodeId}: warning: ${w}`);
    if (p.error) notes.push(`${p.nodeId}: ${p.error}`);
  }
  const out = [
    `server ${report.controlPlane} · ${report.ready ? "ready" : "NOT ready"} · ${report.policySource} revision ${report.policyRevision} · ${report.segments.length} segment(s) · ${report.proxies.length} proxy(ies)`,
    "",
    report.proxies.length ? formatTable(COLUMNS, rows, { wide }).trimEnd() : "no proxy connected",
  ];
  for (const n of report.policyNotices) notes.push(`policy: ${n.text}`);
  for (const r of report.refusedStreams) notes.push(`refused stream from ${r.peer}: ${r.message}`);
  if (report.policySourceStale) notes.push(`policy source STALE: ${report.policySourceStale}`);
  if (notes.length) out.push("", ...notes);
  if (report.refusals.length) out.push("", "refused policy documents (previous state in force):", ...report.refusals.map((r) => `  ${r.text}`));
  return wide ? `${out.join("\n")}\n` : wrap(out.join("\n"));
}

/** `picoseg status`: the connected proxies and their config state, from a running server. */
export function registerStatus(program: Command): void {
  const command = program
    .command("status")
    .description("table of the proxies connected to an xDS server and their config state");
  addServerOptions(command);
  addOutputOption(command).addOption(aliasFlag("--json", "json"));
  command.action(async (flags: ServerFlags & { output: string; json?: boolean }) => {
    const report = await getJson<StatusReport>("picoseg status", flags, "/status");
    printData(flags.json ? "json" : flags.output, report, (wide) => formatStatus(report, wide));
  });
}
