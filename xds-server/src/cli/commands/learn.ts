import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { parse } from "yaml";
import { fetchTraffic, LEARN_DEFAULTS, parseProposeOptions, partialDataLines, proposalYaml } from "../../learn/index.js";
import { addOutputOption, serialized } from "../output.js";
import { addServerOptions, connect, type ServerFlags } from "../server.js";

interface LearnFlags extends ServerFlags {
  workload: string;
  since: string;
  margin: string;
  timezone: string;
  out?: string;
  output: string;
}

/** `picoseg learn`: a PicoSegment (audit mode, commented) proposed from a workload's observed traffic. */
export function registerLearn(program: Command): void {
  const command = program
    .command("learn")
    .description("propose a PicoSegment for a workload from what its learning filters observed (mode: audit, each field commented)")
    .requiredOption("--workload <ns/name>", "the workload: namespace/name (WORKLOAD_NAME, else label app)")
    .option("--since <duration>", "observations of this last period (e.g. 90m, 24h, 7d)", LEARN_DEFAULTS.since)
    .option("--margin <factor>", "limits are the observed maxima times this", LEARN_DEFAULTS.margin)
    .option("--timezone <zone>", "IANA time zone the schedule is written in", LEARN_DEFAULTS.timezone)
    .option("--out <file>", "write the proposal here instead of standard output");
  addServerOptions(command);
  // A proposal is a document to edit and apply: YAML with its comments by default.
  addOutputOption(command, { formats: ["yaml", "json"], fallback: "yaml" });
  command.action(async (flags: LearnFlags) => {
    const options = parseProposeOptions(flags, (o) => `picoseg learn: --${o}`);
    const conn = await connect("picoseg learn", flags);
    const { traffic, missing } = await fetchTraffic("picoseg learn", flags, (path) => conn.get(path)).finally(() => conn.close());
    warnPartial("picoseg learn", partialDataLines(missing));
    const yaml = proposalYaml(traffic, { workload: flags.workload, ...options }, missing);
    const text = flags.output === "json" ? serialized("json", parse(yaml))! : yaml;
    if (flags.out !== undefined) writeFileSync(flags.out, text);
    else process.stdout.write(text);
  });
}

/** Replicas that did not answer, on stderr: the result stands but misses their proxies. */
export function warnPartial(command: string, lines: readonly string[]): void {
  for (const l of lines) process.stderr.write(`${command}: WARNING: ${l.trim()}\n`);
}
