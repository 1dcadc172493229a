import type { Command } from "commander";
import { verifyTrail } from "../../audit/index.js";
import { addOutputOption, serialized } from "../output.js";

/** `picoseg audit verify FILE`: exit 0 when the whole chain holds, else name the first broken entry. */
export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit trail written by `picoseg serve --audit-log FILE`");
  const verify = audit
    .command("verify")
    .description("check the hash chain of FILE and its rotated files (FILE.1, FILE.2, …); exit 1 at the first entry altered, removed or reordered")
    .argument("<file>", "the audit log (as given to --audit-log)");
  addOutputOption(verify).action((file: string, flags: { output: string }) => {
    const r = verifyTrail(file);
    if (!r.ok) process.exitCode = 1;
    const data = serialized(flags.output, r);
    if (data !== undefined) return void process.stdout.write(data);
    if (!r.ok) {
      const f = r.failure!;
      process.stderr.write(`${f.file}:${f.line}: ${f.problem}\n`);
      process.stderr.write(`audit trail BROKEN after ${r.entries} good entries\n`);
      return;
    }
    process.stdout.write(`ok: ${r.entries} entries in ${r.files.length} file(s), chain intact; head ${r.head}\n`);
  });
}
