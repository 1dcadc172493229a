import type { Command } from "commander";
import type { ProxyConfigView } from "../../admin/index.js";
import { addOutputOption, printData, wrap } from "../output.js";
import { addServerOptions, getJson, type ServerFlags } from "../server.js";
import { stateOf } from "./status.js";

const list = (v: string | string[]): string => (Array.isArray(v) ? v.join(", ") : v);

function proxyConfigText(view: ProxyConfigView, wide: boolean): string {
  const out = [`Proxy:      ${view.nodeId}`, `Workload:   ${view.workload.namespace}${view.workload.name ? `/${view.workload.name}` : ""}`];
  for (const r of view.resources) out.push(`Resource:   ${r.name}: current ${r.current ?? "-"}, ACKed ${r.acked ?? "-"} (${stateOf(r)})`);
  if (view.error) out.push(`Error:      ${view.error}`);
  const d = view.decoded;
  if (!d) return `${out.concat("Config:     none compiled").join("\n")}\n`;
  for (const [k, v] of Object.entries(d.header)) out.push(`${`${k}:`.padEnd(12)}${list(v)}`);
  if (d.segments.length === 0) out.push("Segments:   none: every connection is denied (no-rule)");
  for (const s of d.segments) {
    out.push(`segment ${s.segment} (${s.mode})`);
    for (const [k, v] of Object.entries(s.settings)) out.push(`  ${k}: ${list(v)}`);
    for (const r of s.rules) {
      out.push(`  rule ${r.rule}`);
      for (const [k, v] of Object.entries(r)) if (k !== "rule") out.push(`    ${k}: ${list(v)}`);
    }
  }
  const text = `${out.join("\n")}\n`;
  return wide ? text : wrap(text);
}

/** `picoseg proxy-config NODE`: the compiled configuration one proxy holds, decoded. */
export function registerProxyConfig(program: Command): void {
  const command = program
    .command("proxy-config")
    .description("the compiled configuration one proxy holds, decoded (-o json adds the exact string)")
    .argument("<node>", "the proxy's node id (picoseg status lists them)");
  addServerOptions(command);
  addOutputOption(command).action(async (node: string, flags: ServerFlags & { output: string }) => {
    const view = await getJson<ProxyConfigView>("picoseg proxy-config", flags, `/proxy-config?node=${encodeURIComponent(node)}`);
    printData(flags.output, view, (wide) => proxyConfigText(view, wide));
  });
}
