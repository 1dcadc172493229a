import type { Command } from "commander";
import { fetchTraffic, LEARN_DEFAULTS, partialDataLines, whatIf, whatIfText } from "../../learn/index.js";
import { loadPolicyDir } from "../../policy/index.js";
import { formatPolicyError } from "../../../../api/status.js";
import { warnPartial } from "./learn.js";

interface WhatIfFlags {
  policies: string;
  workload: string;
  server: string;
  since: string;
  json?: boolean;
  tokenFile?: string;
}

/** `picoseg what-if`: a workload's observed traffic replayed against a directory of segments. */
export function registerWhatIf(program: Command): void {
  program
    .command("what-if")
    .description("replay a workload's observed traffic against a directory of segments: what would be denied, by reason and by source")
    .requiredOption("--policies <dir>", "the segments to try (a proposal, or an operator's edit)")
    .requiredOption("--workload <ns/name>", "the workload: namespace/name")
    .option("--server <url>", "the server's HTTP side (where the observations are)", "http://127.0.0.1:18080")
    .option("--since <duration>", "observations of this last period", LEARN_DEFAULTS.since)
    .option("--json", "print the result as JSON")
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file")
    .action(async (flags: WhatIfFlags) => {
      const loaded = await loadPolicyDir(flags.policies);
      if (loaded.errors.length > 0) {
        throw new Error(`picoseg what-if: ${flags.policies} has invalid documents:\n${loaded.errors.map(formatPolicyError).join("\n")}`);
      }
      const { traffic, missing } = await fetchTraffic("picoseg what-if", flags);
      warnPartial("picoseg what-if", partialDataLines(missing));
      const result = whatIf(traffic, loaded.segments, flags.workload);
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : whatIfText(result));
    });
}
