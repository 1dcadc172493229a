import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { fetchTraffic, LEARN_DEFAULTS, parseProposeOptions, partialDataLines, proposalYaml } from "../../learn/index.js";

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
    .option("--since <duration>", "observations of this last period (e.g. 90m, 24h, 7d)", LEARN_DEFAULTS.since)
    .option("--margin <factor>", "limits are the observed maxima times this", LEARN_DEFAULTS.margin)
    .option("--timezone <zone>", "IANA time zone the schedule is written in", LEARN_DEFAULTS.timezone)
    .option("--out <file>", "write the proposal here instead of standard output")
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file")
    .action(async (flags: LearnFlags) => {
      const options = parseProposeOptions(flags, (o) => `picoseg learn: --${o}`);
      const { traffic, missing } = await fetchTraffic("picoseg learn", flags);
      warnPartial("picoseg learn", partialDataLines(missing));
      const yaml = proposalYaml(traffic, { workload: flags.workload, ...options }, missing);
      if (flags.out !== undefined) writeFileSync(flags.out, yaml);
      else process.stdout.write(yaml);
    });
}

/** Replicas that did not answer, on stderr: the result stands but misses their proxies. */
export function warnPartial(command: string, lines: readonly string[]): void {
  for (const l of lines) process.stderr.write(`${command}: WARNING: ${l.trim()}\n`);
}
