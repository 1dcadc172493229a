import type { Command } from "commander";
import { fetchTraffic, LEARN_DEFAULTS, partialDataLines, whatIf, whatIfText } from "../../learn/index.js";
import { loadPolicyDir } from "../../policy/index.js";
import { formatPolicyError } from "../../../../api/status.js";
import { addOutputOption, aliasFlag, printData, wrap } from "../output.js";
import { addServerOptions, connect, type ServerFlags } from "../server.js";
import { warnPartial } from "./learn.js";

interface WhatIfFlags extends ServerFlags {
  policies: string;
  workload: string;
  since: string;
  output: string;
  json?: boolean;
}

/** `picoseg what-if`: a workload's observed traffic replayed against a directory of segments. */
export function registerWhatIf(program: Command): void {
  const command = program
    .command("what-if")
    .description("replay a workload's observed traffic against a directory of segments: what would be denied, by reason and by source")
    .requiredOption("--policies <dir>", "the segments to try (a proposal, or an operator's edit)")
    .requiredOption("--workload <ns/name>", "the workload: namespace/name")
    .option("--since <duration>", "observations of this last period", LEARN_DEFAULTS.since);
  addServerOptions(command);
  addOutputOption(command).addOption(aliasFlag("--json", "json"));
  command.action(async (flags: WhatIfFlags) => {
    const loaded = await loadPolicyDir(flags.policies);
    if (loaded.errors.length > 0) {
      throw new Error(`picoseg what-if: ${flags.policies} has invalid documents:\n${loaded.errors.map(formatPolicyError).join("\n")}`);
    }
    const conn = await connect("picoseg what-if", flags);
    const { traffic, missing } = await fetchTraffic("picoseg what-if", flags, (path) => conn.get(path)).finally(() => conn.close());
    warnPartial("picoseg what-if", partialDataLines(missing));
    const result = whatIf(traffic, loaded.segments, flags.workload);
    printData(flags.json ? "json" : flags.output, result, (wide) => (wide ? whatIfText(result) : wrap(whatIfText(result))));
  });
}
