// `picoseg demo --once` is the project's main job: the real xDS server, five real Envoy sidecars,
// real mTLS traffic, a hot policy change. It exits 0 only if every decision was the expected one.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../xds-server/src/util/index.js";

const TIMEOUT_MS = 120_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs the CLI; SIGTERM at the deadline (the demo then stops its Envoys), SIGKILL 15 s later. */
function runDemoOnce(): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot(), "bin", "picoseg.js"), "demo", "--once"], {
      cwd: repoRoot(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")));
    const term = setTimeout(() => child.kill("SIGTERM"), TIMEOUT_MS);
    const kill = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS + 15_000);
    child.once("exit", (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, signal, output });
    });
  });
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** The scenario tables' data rows: "#  client  target:port  sent  decision  reason  ok". */
function tableRows(output: string): string[] {
  return output.split("\n").filter((l) => /^L?\d+[a-z]?\**\s{2,}\S+\s{2,}\S+:\d+\s{2,}/.test(l));
}

describe("picoseg demo --once", () => {
  it(
    "runs the scenario with allowed and denied connections and a hot change, every decision as expected, and stops every process",
    async () => {
      const run = await runDemoOnce();
      const rows = tableRows(run.output);
      // Diagnostics first: on failure the whole printout is in the assertion message.
      expect(rows.length, run.output).toBeGreaterThanOrEqual(15);
      expect(rows.some((r) => /\sallowed\s/.test(r)), run.output).toBe(true);
      expect(rows.some((r) => /\sclosed\s/.test(r)), run.output).toBe(true);
      expect(run.output, run.output).toMatch(/hot policy change: .*checkout/);
      expect(run.output, run.output).toMatch(/cart-cache sidecar ACKed \S+ \(was \S+\)/);
      expect(rows.some((r) => /\srevoked\s/.test(r)), run.output).toBe(true);
      // The payments database is a real Postgres that node-postgres reaches through its sidecar,
      // framed as Postgres: a 2 MiB parameter is one message over the rule's 1 MiB (in office hours).
      const pgRows = rows.filter((r) => /\spg: /.test(r));
      expect(pgRows.length, run.output).toBe(3);
      expect(pgRows.find((r) => /^6b\b/.test(r)), run.output).toMatch(/\sclosed\s+(message-size|schedule)\s/); // the 2 MiB parameter
      expect(run.output, run.output).toContain("every decision was the expected one");
      // It fits a terminal of 100 columns, and names the commands as the README does (run in the checkout).
      const long = run.output.split("\n").filter((l) => [...l].length > 100);
      expect(long, run.output).toEqual([]);
      expect(run.output, run.output).toMatch(/^4\. compliance \(npx picoseg report --server http:\/\/127\.0\.0\.1:\d+;/m);
      expect(run.output, run.output).toMatch(/^console {5}http:\/\/127\.0\.0\.1:\d+\/ui /m);
      // The compliance summary: the PCI database enforced, the PHI API audit-only (a finding), its
      // canary enforced by the app team's annotation.
      expect(run.output, run.output).toMatch(/^ {3}payments\/payments-db +pci +pci-dss +ENFORCE +\d+ finding/m);
      expect(run.output, run.output).toMatch(/^ {3}analytics\/reporting-api +phi +hipaa +AUDIT-ONLY +\d+ finding\(s\) \(audit-only/m);
      expect(run.output, run.output).toMatch(/^ {3}analytics\/reporting-api \{track=canary\} +phi +hipaa +ENFORCE /m);
      // Learning mode: a proposal learned from the inventory's traffic, what-if's verdict on an
      // intruder, and the proposal enforced.
      expect(run.output, run.output).toMatch(/^5\. learning mode on shop\/inventory/m);
      expect(run.output, run.output).toMatch(/^ +- "spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart" +# 3 connections/m);
      expect(run.output, run.output).toMatch(/^ +would pass: 5$/m);
      expect(run.output, run.output).toMatch(/^ +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/intruder: source 1$/m);
      expect(rows.some((r) => /^L8 .*intruder.*closed +source +yes$/.test(r)), run.output).toBe(true);
      expect({ code: run.code, signal: run.signal }, run.output).toEqual({ code: 0, signal: null });
      // Every sidecar was stopped: the demo's addresses are free again.
      for (const [host, port] of [["127.0.0.2", 6379], ["127.0.0.2", 16379], ["127.0.0.3", 5432], ["127.0.0.4", 8080], ["127.0.0.5", 8080], ["127.0.0.6", 8080]] as const) {
        expect(await portFree(host, port), `${host}:${port} still in use after the demo`).toBe(true);
      }
    },
    TIMEOUT_MS + 20_000,
  );
});
