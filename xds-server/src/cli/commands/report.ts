import { type Command, Option } from "commander";
import { type ComplianceReport, isRegime, reportHtml, reportText } from "../../compliance/index.js";
import { addOutputOption, serialized, wrap } from "../output.js";
import { addServerOptions, getJson, type ServerFlags } from "../server.js";

interface ReportFlags extends ServerFlags {
  compliance?: string;
  output: string;
  format?: string;
}

/** The old `--format text|json|html`, as `-o`: text is the table form. */
const FORMAT_ALIAS: Record<string, string> = { text: "table", json: "json", html: "html" };

/** `picoseg report`: the compliance report of a running server (its /report): text, JSON, YAML or HTML. */
export function registerReport(program: Command): void {
  const command = program
    .command("report")
    .description("compliance evidence for the regulated workloads a server sees (PCI-DSS, HIPAA): coverage, rules in words, findings, ACKed versions, decisions")
    .option("--compliance <regime>", "only workloads under this regime: pci-dss or hipaa");
  addServerOptions(command);
  addOutputOption(command, { formats: ["table", "wide", "json", "yaml", "html"] });
  command.addOption(new Option("--format <text|json|html>", "same as -o (text: table)").choices(Object.keys(FORMAT_ALIAS)).hideHelp());
  command.action(async (flags: ReportFlags) => {
    if (flags.compliance !== undefined && !isRegime(flags.compliance)) throw new Error(`--compliance: pci-dss or hipaa, got "${flags.compliance}"`);
    const format = flags.format !== undefined ? FORMAT_ALIAS[flags.format]! : flags.output;
    const report = await getJson<ComplianceReport>("picoseg report", flags, `/report${flags.compliance ? `?compliance=${flags.compliance}` : ""}`);
    if (format === "html") return void process.stdout.write(reportHtml(report));
    process.stdout.write(serialized(format, report) ?? (format === "wide" ? reportText(report) : wrap(reportText(report))));
  });
}
