import type { Command } from "commander";
import type { DescribeView } from "../../admin/index.js";
import type { WorkloadReport } from "../../compliance/index.js";
import { stateOf } from "./status.js";
import { addOutputOption, type Column, formatTable, printData, wrap } from "../output.js";
import { addServerOptions, getJson, type ServerFlags } from "../server.js";

/**
 * Where `picoseg precheck` (what a change would start denying) will be shown. It is issue 19's
 * command and not in this tree yet: the line says so rather than guess.
 */
export const PRECHECK_GAP = "not available: `picoseg precheck` is not part of this version yet";

const SIDECAR_COLUMNS: readonly Column[] = [
  { head: "SIDECAR (node id)", shrink: true },
  { head: "RESOURCE" },
  { head: "SENT" },
  { head: "ACKED" },
  { head: "STATE" },
  { head: "ACKED AT", wide: true },
];

/** One workload as an operator reads it: why it is selected, its rules, its sidecars, its denials. */
export function describeText(w: WorkloadReport, wide: boolean): string {
  const v = (x: string | undefined): string => (x ? (wide ? x : x.slice(0, 8)) : "-");
  const labels = Object.entries(w.labels).map(([k, val]) => `${k}=${val}`).join(",");
  const out: string[] = [`Workload:   ${w.workload}${labels ? ` {${labels}}` : ""}`];
  out.push(`Coverage:   ${w.coverage === "none" ? "no segment selects it: picoseg leaves its traffic alone" : w.coverage}`);
  if (w.segments.length > 0) {
    out.push("Segments:");
    for (const s of w.segments) {
      const why = Object.keys(s.selects).length ? `selects ${Object.entries(s.selects).map(([k, val]) => `${k}=${val}`).join(",")}` : "selects every workload of its namespace";
      out.push(`  ${s.name} (${s.mode}): ${why}${s.compliance.length ? `; compliance ${s.compliance.join(", ")}` : ""}`);
    }
    out.push("Rules (first match governs; annotations applied):");
    for (const r of w.rules) out.push(`  ${r.segment}/${r.rule} (${r.mode}): ${r.text}`);
  }
  out.push("Sidecars:");
  const rows = w.proxies.map((p) => [p.nodeId, p.resource, v(p.sent), v(p.acked), stateOf({ name: p.resource, ...p }), p.ackedAt ? new Date(p.ackedAt).toISOString() : "-"]);
  out.push(rows.length ? formatTable(SIDECAR_COLUMNS, rows, { wide, width: 98 }).trimEnd().split("\n").map((l) => `  ${l}`).join("\n") : "  none connected");
  for (const p of w.proxies) if (p.nack) out.push(`  ${p.nodeId}: NACK of ${v(p.nack.version)}: ${p.nack.detail}`);
  const denied = Object.entries(w.decisions.counts).filter(([k, n]) => k !== "allow" && n > 0).sort(([a], [b]) => (a < b ? -1 : 1));
  const since = w.decisions.since !== undefined ? ` since ${new Date(w.decisions.since).toISOString()}` : "";
  out.push(`Denials${since} (the sidecars' counters): ${denied.length ? denied.map(([k, n]) => `${k} ${n}`).join(", ") : "none"}`);
  if (w.decisions.sources === "not reported") out.push("  by source: not reported (filters report their denials under compliance or a data-class label)");
  else if (w.decisions.sources.length === 0) out.push("  by source: none reported (filters report their denials under compliance or a data-class label)");
  else for (const d of w.decisions.sources) out.push(`  ${d.reason} from ${d.source}: ${d.count}${d.mode === "audit" ? " (audit: not closed)" : ""}, last ${new Date(d.to).toISOString()}`);
  for (const u of w.decisions.unreadable) out.push(`  counters unreadable: ${u}`);
  out.push(`Precheck:   ${PRECHECK_GAP}`);
  const text = `${out.join("\n")}\n`;
  return wide ? text : wrap(text);
}

async function describe(flags: ServerFlags & { output: string }, query: string, what: string): Promise<void> {
  const view = await getJson<DescribeView>("picoseg describe", flags, `/describe?${query}`);
  if (view.workloads.length === 0) throw new Error(`picoseg describe: ${what}: no proxy of it is connected to ${view.controlPlane}`);
  printData(flags.output, view, (wide) => view.workloads.map((w) => describeText(w, wide)).join("\n"));
}

/** `picoseg describe pod NAME -n NS` and `picoseg describe workload NS/NAME`. */
export function registerDescribe(program: Command): void {
  const parent = program.command("describe").description("what picoseg enforces on a pod or workload right now, and why: segments, rules, sidecars, denials");
  const pod = parent
    .command("pod")
    .description("the workload of a pod (found by its sidecars' node ids)")
    .argument("<name>", "the pod's name")
    .requiredOption("-n, --namespace <ns>", "the pod's namespace");
  addServerOptions(pod);
  addOutputOption(pod).action(async (name: string, flags: ServerFlags & { output: string; namespace: string }) => {
    await describe(flags, `pod=${encodeURIComponent(name)}&namespace=${encodeURIComponent(flags.namespace)}`, `pod ${flags.namespace}/${name}`);
  });
  const workload = parent
    .command("workload")
    .description("a workload by its name (WORKLOAD_NAME, else label app)")
    .argument("<ns/name>", "namespace/name");
  addServerOptions(workload);
  addOutputOption(workload).action(async (name: string, flags: ServerFlags & { output: string }) => {
    if (!/^[^/]+\/[^/]+$/.test(name)) throw new Error(`picoseg describe workload: expected NS/NAME, got "${name}"`);
    await describe(flags, `workload=${encodeURIComponent(name)}`, `workload ${name}`);
  });
}
