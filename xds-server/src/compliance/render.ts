// The compliance report as text (a terminal, a ticket) and as a standalone HTML page (an
// attachment for the assessor). JSON is the report itself.
import type { ComplianceReport, Finding, WorkloadReport } from "./report.js";

const iso = (ms: number | undefined): string => (ms === undefined ? "-" : new Date(ms).toISOString());
const reqText = (f: Finding): string => f.requirements.map((r) => `${r.regime === "pci-dss" ? "PCI-DSS" : "HIPAA"} ${r.id}`).join(", ");

function deniedAttemptsText(sources: WorkloadReport["decisions"]["sources"]): string[] {
  if (sources === "not reported") return ["    denied attempts by source: not reported (Envoy counters carry no source)"];
  if (sources.length === 0) return ["    denied attempts by source: none reported by the filters"];
  return ["    denied attempts by source (reported by the filters):", ...sources.map((s) => `      ${s.reason.padEnd(18)} ${s.source} ×${s.count}${s.mode === "audit" ? " (audit: not closed)" : ""}, ${iso(s.from)} – ${iso(s.to)}`)];
}

function deniedAttemptsHtml(sources: WorkloadReport["decisions"]["sources"]): string {
  if (sources === "not reported") return "<p>Denied attempts by source: not reported (Envoy counters carry no source).</p>";
  if (sources.length === 0) return "<p>Denied attempts by source: none reported by the filters.</p>";
  return `<table><tr><th>reason</th><th>source</th><th>mode</th><th>attempts</th><th>from</th><th>to</th></tr>${sources
    .map((s) => `<tr><td>${esc(s.reason)}</td><td>${esc(s.source)}</td><td>${s.mode}</td><td>${s.count}</td><td>${esc(iso(s.from))}</td><td>${esc(iso(s.to))}</td></tr>`)
    .join("")}</table>`;
}

function decisionsText(w: WorkloadReport): string[] {
  const d = w.decisions;
  const entries = Object.entries(d.counts).sort(([a], [b]) => (a < b ? -1 : 1));
  const out = [`  decisions${d.since !== undefined ? ` since ${iso(d.since)}` : ""}: ${entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(", ") : "none counted"}`];
  out.push(...deniedAttemptsText(d.sources));
  for (const u of d.unreadable) out.push(`    unreadable: ${u}`);
  return out;
}

export function reportText(r: ComplianceReport): string {
  const f = r.summary.findings;
  const out = [
    `picoseg compliance report${r.regime ? ` (${r.regime})` : ""} · ${iso(r.generatedAt)} · server ${r.controlPlane} · policy revision ${r.policyRevision}`,
    `${r.summary.workloads} regulated workload(s) · findings: ${f.critical} critical, ${f.high} high, ${f.medium} medium, ${f.low} low`,
    r.disclaimer,
  ];
  if (r.workloads.length === 0) out.push("", "no regulated workload seen (label picoseg.io/data-class, or a segment with compliance:)");
  for (const w of r.workloads) {
    out.push(
      "",
      `${w.workload} · data class ${w.dataClass ?? "-"} · ${w.regimes.join(", ") || "no regime"} · coverage: ${w.coverage.toUpperCase()}`,
      `  segments: ${w.segments.map((s) => `${s.name} (${s.mode})`).join(", ") || "none"}`,
      "  rules:",
      ...(w.rules.length ? w.rules.map((x) => `    ${x.segment}/${x.rule} [${x.mode}]: ${x.text}`) : ["    none"]),
      "  findings:",
      ...(w.findings.length ? w.findings.map((x) => `    ${x.severity.toUpperCase().padEnd(8)} ${x.text}${x.requirements.length ? ` [${reqText(x)}]` : ""}`) : ["    none"]),
      "  proxies:",
      ...w.proxies.map(
        (p) =>
          `    ${p.nodeId} ${p.resource}: ACKed ${p.acked?.slice(0, 8) ?? "nothing"} since ${iso(p.ackedAt)}${p.inSync ? " (in sync)" : " (NOT in sync)"}${p.nack ? `; NACK of ${p.nack.version.slice(0, 8)}: ${p.nack.detail}` : ""}`,
      ),
      ...decisionsText(w),
    );
  }
  return `${out.join("\n")}\n`;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-contained page (no script, inline style) for an assessor's file. */
export function reportHtml(r: ComplianceReport): string {
  const f = r.summary.findings;
  const body: string[] = [
    `<h1>picoseg compliance report${r.regime ? ` — ${esc(r.regime)}` : ""}</h1>`,
    `<p>${esc(iso(r.generatedAt))} · server ${esc(r.controlPlane)} · policy revision ${r.policyRevision}</p>`,
    `<p><b>${r.summary.workloads}</b> regulated workload(s) · findings: ${f.critical} critical, ${f.high} high, ${f.medium} medium, ${f.low} low</p>`,
    `<p class="note">${esc(r.disclaimer)}</p>`,
  ];
  for (const w of r.workloads) {
    body.push(
      `<section><h2>${esc(w.workload)} <span class="cov ${w.coverage}">${esc(w.coverage)}</span></h2>`,
      `<p>data class ${esc(w.dataClass ?? "-")} · ${esc(w.regimes.join(", ") || "no regime")} · segments: ${esc(w.segments.map((s) => `${s.name} (${s.mode})`).join(", ") || "none")}</p>`,
      "<h3>Findings</h3>",
      w.findings.length
        ? `<table><tr><th>severity</th><th>finding</th><th>requirement</th></tr>${w.findings
            .map((x) => `<tr class="${x.severity}"><td>${x.severity}</td><td>${esc(x.text)}</td><td>${esc(x.requirements.map((q) => `${q.regime === "pci-dss" ? "PCI-DSS" : "HIPAA"} ${q.id}: ${q.title}`).join("; "))}</td></tr>`)
            .join("")}</table>`
        : "<p>none</p>",
      "<h3>Rules</h3>",
      `<ul>${w.rules.map((x) => `<li><code>${esc(x.segment)}/${esc(x.rule)}</code> [${x.mode}]: ${esc(x.text)}</li>`).join("")}</ul>`,
      "<h3>Proxies</h3>",
      `<table><tr><th>node</th><th>resource</th><th>ACKed</th><th>since</th><th>state</th></tr>${w.proxies
        .map((p) => `<tr><td>${esc(p.nodeId)}</td><td>${esc(p.resource)}</td><td><code>${esc(p.acked?.slice(0, 12) ?? "-")}</code></td><td>${esc(iso(p.ackedAt))}</td><td>${p.nack ? `NACK: ${esc(p.nack.detail)}` : p.inSync ? "in sync" : "not in sync"}</td></tr>`)
        .join("")}</table>`,
      "<h3>Decisions</h3>",
      `<p>${w.decisions.since !== undefined ? `since ${esc(iso(w.decisions.since))}: ` : ""}${esc(Object.entries(w.decisions.counts).map(([k, v]) => `${k} ${v}`).join(", ") || "none counted")}.${w.decisions.unreadable.length ? ` Unreadable: ${esc(w.decisions.unreadable.join("; "))}` : ""}</p>`,
      deniedAttemptsHtml(w.decisions.sources),
      "</section>",
    );
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>picoseg compliance report</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
.critical td:first-child,.high td:first-child{color:#b00;font-weight:bold}.cov{font-size:.7em;padding:.1em .4em;border-radius:.3em;background:#eee}.cov.enforce{background:#cfc}.cov.audit-only,.cov.none{background:#fcc}.note{color:#555}
</style></head><body>${body.join("\n")}</body></html>
`;
}

/** One line per regulated workload, for the demo and a terminal glance. */
export function reportSummary(r: ComplianceReport): string[] {
  const f = r.summary.findings;
  const lines = [`${r.summary.workloads} regulated workload(s); findings: ${f.critical} critical, ${f.high} high, ${f.medium} medium, ${f.low} low (evidence, not certification)`];
  for (const w of r.workloads) {
    // Replicas share a name; other label sets (a canary) are told apart by their extra labels.
    const extra = Object.entries(w.labels).filter(([k]) => k !== "app" && k !== "picoseg.io/data-class").map(([k, v]) => `${k}=${v}`);
    const name = `${w.workload}${extra.length ? ` {${extra.join(",")}}` : ""}`;
    const top = w.findings.filter((x) => x.severity === "critical" || x.severity === "high").map((x) => x.check);
    const denied = Object.entries(w.decisions.counts).filter(([k]) => !k.startsWith("allow")).map(([k, v]) => `${k} ${v}`);
    lines.push(
      `${name.padEnd(40)} ${(w.dataClass ?? "-").padEnd(4)} ${(w.regimes.join(",") || "-").padEnd(8)} ${w.coverage.toUpperCase().padEnd(10)} ${w.findings.length} finding(s)${top.length ? ` (${top.join(", ")})` : ""}${denied.length ? `; ${denied.join(", ")}` : ""}`,
    );
  }
  return lines;
}
