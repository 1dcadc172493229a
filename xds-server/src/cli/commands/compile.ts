import { type Command, InvalidArgumentError } from "commander";
import { compileForWorkload, loadPolicyFiles } from "../../policy/index.js";
import { formatPolicyError } from "../../../../api/status.js";

/**
 * `picoseg compile DIR --namespace NS --labels k=v[,k=v] [--annotations k=v,…]`: stdout gets
 * exactly the workload's filter configuration (it ends with "end\n"), nothing else. Warnings
 * (annotations ignored) go to stderr. Any invalid policy: every error on stderr, nothing on
 * stdout, exit 1 — a configuration is never compiled from a partly valid directory.
 */
export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("print the filter configuration string of one workload")
    .argument("<paths...>", "policy directory (or files)")
    .requiredOption("--namespace <ns>", "the workload's namespace")
    .requiredOption("--labels <k=v,...>", "the workload's labels (repeatable; \"\" for none)", mergePairs)
    .option("--annotations <k=v,...>", "the workload's pod annotations (repeatable)", mergePairs, {})
    .option("--generation <n>", "emit a `generation N` line", parseGeneration)
    .option("--now <iso-date>", "compile as of this instant (the time-zone tables start on 1 January of its year)", parseDate)
    .action(async (paths: string[], options: CompileCliOptions) => {
      const result = await loadPolicyFiles(paths);
      if (result.errors.length > 0) {
        for (const error of result.errors) process.stderr.write(`${formatPolicyError(error)}\n`);
        process.exitCode = 1;
        return;
      }
      const compiled = compileForWorkload(
        result.segments,
        { namespace: options.namespace, labels: options.labels, annotations: options.annotations },
        { now: options.now, generation: options.generation },
      );
      for (const warning of compiled.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(compiled.config);
    });
}

interface CompileCliOptions {
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generation?: number;
  now?: Date;
}

/** "k=v,k2=v2" merged into what earlier flags gave; the value is everything after the first '='. */
function mergePairs(text: string, previous: Record<string, string> | undefined): Record<string, string> {
  const merged = { ...previous };
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? "" : item.slice(0, eq).trim();
    if (key === "") throw new InvalidArgumentError(`expected k=v pairs separated by commas, got ${JSON.stringify(item)}`);
    merged[key] = item.slice(eq + 1).trim();
  }
  return merged;
}

function parseGeneration(text: string): number {
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError("must be a non-negative integer");
  return Number(text);
}

function parseDate(text: string): Date {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError("must be an ISO 8601 date, e.g. 2026-06-01T00:00:00Z");
  return date;
}
