import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { fetchTraffic } from "../../learn/fetch.js";
import { proposeSegment } from "../../learn/propose.js";
import { checkTimeZone } from "../../policy/timezone.js";

interface LearnFlags {
  server: string;
  workload: string;
  since: string;
  margin: string;
  timezone: string;
  out?: string;
  tokenFile?: string;
}

/** `picoseg learn`: a PicoSegment (audit mode, commented) proposed from a workload's observed traffic. */
export function registerLearn(program: Command): void {
  program
    .command("learn")
    .description("propose a PicoSegment for a workload from what its learning filters observed (mode: audit, each field commented)")
    .requiredOption("--workload <ns/name>", "the workload: namespace/name (WORKLOAD_NAME, else label app)")
    .option("--server <url>", "the server's HTTP side", "http://127.0.0.1:18080")
    .option("--since <duration>", "observations of this last period (e.g. 90m, 24h, 7d)", "24h")
    .option("--margin <factor>", "limits are the observed maxima times this", "1.5")
    .option("--timezone <zone>", "IANA time zone the schedule is written in", "UTC")
    .option("--out <file>", "write the proposal here instead of standard output")
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file")
    .action(async (flags: LearnFlags) => {
      const margin = Number(flags.margin);
      if (!(margin >= 1)) throw new Error(`picoseg learn: --margin: a factor >= 1, got "${flags.margin}"`);
      const zone = checkTimeZone(flags.timezone);
      if (!zone.ok) throw new Error(`picoseg learn: --timezone: ${zone.message}`);
      const traffic = await fetchTraffic("picoseg learn", flags);
      const yaml = proposeSegment(traffic, { workload: flags.workload, margin, timezone: zone.value });
      if (flags.out !== undefined) writeFileSync(flags.out, yaml);
      else process.stdout.write(yaml);
    });
}
