import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { type ComplianceReport, isRegime, reportHtml, reportText } from "../../compliance/index.js";
import { errorMessage } from "../../util/index.js";

interface ReportFlags {
  server: string;
  compliance?: string;
  format: string;
  tokenFile?: string;
}

/** `picoseg report`: the compliance report of a running server (its /report), as text, JSON or HTML. */
export function registerReport(program: Command): void {
  program
    .command("report")
    .description("compliance evidence for the regulated workloads a running server sees (PCI-DSS, HIPAA): coverage, rules in words, findings, ACKed versions, decisions")
    .option("--server <url>", "the server's HTTP side", "http://127.0.0.1:18080")
    .option("--compliance <regime>", "only workloads under this regime: pci-dss or hipaa")
    .option("--format <text|json|html>", "output format", "text")
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file")
    .action(async (flags: ReportFlags) => {
      if (flags.compliance !== undefined && !isRegime(flags.compliance)) throw new Error(`--compliance: pci-dss or hipaa, got "${flags.compliance}"`);
      if (!["text", "json", "html"].includes(flags.format)) throw new Error(`--format: text, json or html, got "${flags.format}"`);
      const url = `${flags.server.replace(/\/+$/, "")}/report${flags.compliance ? `?compliance=${flags.compliance}` : ""}`;
      const token = flags.tokenFile !== undefined ? readFileSync(flags.tokenFile, "utf8").trim() : undefined;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(5000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
      } catch (err) {
        throw new Error(`picoseg report: cannot reach ${url}: ${errorMessage(err)}`);
      }
      if (!res.ok) throw new Error(`picoseg report: ${url}: HTTP ${res.status}: ${(await res.text()).trim()}`);
      const text = await res.text();
      if (flags.format === "json") return void process.stdout.write(text);
      const report = JSON.parse(text) as ComplianceReport;
      process.stdout.write(flags.format === "html" ? reportHtml(report) : reportText(report));
    });
}
