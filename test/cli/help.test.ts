// Every command's --help fits 100 columns: through a pipe (commander's 80) and on a terminal of
// 200 columns (tmux), where commander would otherwise use the whole width.
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { Command } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../xds-server/src/cli/main.js";
import { PICOSEG_CLI } from "../../testkit/cli/index.js";
import { repoRoot, sleep, TABLE_WIDTH, waitFor } from "../../xds-server/src/util/index.js";

/** Every command path of the program: ["serve"], ["audit", "verify"], … (the hidden complete too). */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

const widest = (text: string): number => Math.max(...text.split("\n").map((l) => [...l].length));

beforeAll(() => {
  execFileSync("bash", [path.join(repoRoot(), "scripts", "apt-install.sh"), "tmux=tmux"], { stdio: "inherit", timeout: 600_000 });
}, 600_000);

describe("picoseg --help", () => {
  const paths = commandPaths(buildProgram()).filter((p) => p[0] !== "envoy"); // envoy --help is Envoy's own

  it("lists every command, and each command's help fits 100 columns through a pipe", () => {
    expect(paths.map((p) => p.join(" "))).toEqual(expect.arrayContaining(["serve", "validate", "status", "audit verify", "completion", "version"]));
    for (const p of [[], ...paths]) {
      const help = execFileSync(process.execPath, [...PICOSEG_CLI, ...p, "--help"], { encoding: "utf8" });
      expect(widest(help), `picoseg ${p.join(" ")} --help:\n${help}`).toBeLessThanOrEqual(TABLE_WIDTH);
      expect(help).toMatch(/^Usage: picoseg/);
    }
  }, 120_000);

  it("fits 100 columns on a 200-column terminal too", async () => {
    const socket = `picoseg-help-${process.pid}`;
    const tmux = (...args: string[]): string => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
    const command = [process.execPath, ...PICOSEG_CLI, "serve", "--help"].map((a) => `'${a}'`).join(" ");
    tmux("new-session", "-d", "-s", "help", "-x", "200", "-y", "150", `${command}; sleep 30`);
    try {
      let screen = "";
      await waitFor("serve --help on the terminal", async () => {
        screen = tmux("capture-pane", "-p", "-t", "help", "-S", "-150");
        await sleep(200);
        return /--drain-seconds/.test(screen) && /display help for command/.test(screen) ? true : undefined;
      }, 20_000, 100);
      expect(widest(screen), screen).toBeLessThanOrEqual(TABLE_WIDTH);
      // A line commander wrapped at 100 reaches past 80: the terminal's width was used, up to the cap.
      expect(widest(screen), screen).toBeGreaterThan(80);
    } finally {
      tmux("kill-server");
    }
  }, 60_000);
});
