import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { ProxyStatus, StatusReport } from "../../../../api/status.js";
import { errorMessage } from "../../util/index.js";

const short = (v: string | undefined): string => (v ? v.slice(0, 8) : "-");

function workloadText(p: ProxyStatus): string {
  const labels = Object.entries(p.workload.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return `${p.workload.namespace}${p.workload.name ? `/${p.workload.name}` : ""}${labels ? ` {${labels}}` : ""}`;
}

/** One state word per resource: where the proxy stands against what it should have. */
function stateOf(r: ProxyStatus["resources"][number]): string {
  if (r.nack && r.nack.version === r.sent) return "NACKED";
  if (r.acked !== undefined && r.acked === r.current) return "in sync";
  if (r.sent !== undefined && r.sent === r.current) return "pending ACK";
  return r.sent === undefined ? "not sent" : "stale";
}

export function formatStatus(report: StatusReport): string {
  const rows: string[][] = [["NODE", "WORKLOAD", "STREAM", "SEGMENTS", "RESOURCE", "CURRENT", "SENT", "ACKED", "STATE"]];
  const notes: string[] = [];
  for (const p of report.proxies) {
    const stream = p.streams.map((s) => `${s.service}/${s.protocol}`).join(",") || "-";
    const segs = p.segments.join(",") || "(none)";
    const resources = p.resources.length ? p.resources : [{ name: "-" }];
    for (const r of resources) {
      rows.push([p.nodeId, workloadText(p), stream, segs, r.name, short(r.current), short(r.sent), short(r.acked), r.name === "-" ? "-" : stateOf(r)]);
      if (r.nack) notes.push(`${p.nodeId} ${r.name}: NACK of ${short(r.nack.version)} at ${new Date(r.nack.at).toISOString()}: ${r.nack.detail}`);
    }
    for (const w of p.warnings) notes.push(`${p.nodeId}: warning: ${w}`);
    if (p.error) notes.push(`${p.nodeId}: ${p.error}`);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  const out = [
    `server ${report.controlPlane} · ${report.ready ? "ready" : "NOT ready"} · ${report.policySource} revision ${report.policyRevision} · ${report.segments.length} segment(s) · ${report.proxies.length} proxy(ies)`,
    "",
    ...(report.proxies.length ? table : ["no proxy connected"]),
  ];
  for (const n of report.policyNotices) notes.push(`policy: ${n.text}`);
  for (const r of report.refusedStreams) notes.push(`refused stream from ${r.peer}: ${r.message}`);
  if (report.policySourceStale) notes.push(`policy source STALE: ${report.policySourceStale}`);
  if (notes.length) out.push("", ...notes);
  if (report.refusals.length) out.push("", "refused policy documents (previous state in force):", ...report.refusals.map((r) => `  ${r.text}`));
  return `${out.join("\n")}\n`;
}

/** `picoseg status`: the connected proxies and their config state, from a running server. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("table of the proxies connected to an xDS server and their config state")
    .option("--server <url>", "the server's HTTP side", "http://127.0.0.1:18080")
    .option("--json", "print the raw /status JSON")
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file (for https with a private CA, set NODE_EXTRA_CA_CERTS)")
    .action(async (flags: { server: string; json?: boolean; tokenFile?: string }) => {
      const url = `${flags.server.replace(/\/+$/, "")}/status`;
      const token = flags.tokenFile !== undefined ? readFileSync(flags.tokenFile, "utf8").trim() : undefined;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(5000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
      } catch (err) {
        throw new Error(`picoseg status: cannot reach ${url}: ${errorMessage(err)}`);
      }
      if (!res.ok) throw new Error(`picoseg status: ${url}: HTTP ${res.status}`);
      const text = await res.text();
      process.stdout.write(flags.json ? text : formatStatus(JSON.parse(text) as StatusReport));
    });
}
