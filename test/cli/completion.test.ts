// `picoseg completion bash|zsh|fish`: each script loaded into the real shell, run interactively
// under tmux, and a TAB pressed in its line editor, as an operator would. The shells come from
// Debian (scripts/apt-install.sh). The script calls back `picoseg complete -- …`: a `picoseg` on
// PATH runs this checkout's CLI from its sources.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PICOSEG_CLI } from "../../testkit/cli/index.js";
import { repoRoot, sleep, waitFor } from "../../xds-server/src/util/index.js";

const BASH_COMPLETION = "/usr/share/bash-completion/bash_completion";
const SHELLS = {
  bash: { start: "bash --norc --noprofile", load: `source ${BASH_COMPLETION}; source <(picoseg completion bash)` },
  zsh: { start: "zsh -f", load: "autoload -U compinit && compinit -u && source <(picoseg completion zsh)" },
  fish: { start: "fish --no-config", load: "picoseg completion fish | source" },
} as const;

let dir = "";
const socket = `picoseg-completion-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env["PATH"]}` } });

beforeAll(() => {
  execFileSync("bash", [path.join(repoRoot(), "scripts", "apt-install.sh"), "tmux=tmux", "zsh=zsh", "fish=fish", `${BASH_COMPLETION}=bash-completion`], { stdio: "inherit", timeout: 600_000 });
  dir = mkdtempSync(path.join(tmpdir(), "picoseg-completion-"));
  const wrapper = path.join(dir, "picoseg");
  writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${PICOSEG_CLI.map((a) => JSON.stringify(a)).join(" ")} "$@"\n`);
  chmodSync(wrapper, 0o755);
}, 600_000);

afterAll(() => {
  try {
    tmux("kill-server");
  } catch {
    // no session left
  }
  rmSync(dir, { recursive: true, force: true });
});

/** The screen after typing `line` and pressing TAB (twice: some shells list only on the second). */
async function complete(shell: keyof typeof SHELLS, line: string, expected: RegExp): Promise<string> {
  const name = `${shell}-${Math.random().toString(36).slice(2, 8)}`;
  tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "40", SHELLS[shell].start);
  try {
    await sleep(500);
    tmux("send-keys", "-t", name, SHELLS[shell].load, "Enter");
    await sleep(1500); // the script is loaded (it runs picoseg once) before the line is typed
    tmux("send-keys", "-t", name, line, "Tab");
    let screen = "";
    await waitFor(`${shell} to complete "${line}"`, async () => {
      screen = tmux("capture-pane", "-p", "-t", name);
      if (expected.test(screen)) return true;
      tmux("send-keys", "-t", name, "Tab");
      await sleep(1000);
      return undefined;
    }, 20_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}; the screen:\n${screen}`);
    });
    return screen;
  } finally {
    tmux("kill-session", "-t", name);
  }
}

describe("picoseg completion", () => {
  for (const shell of Object.keys(SHELLS) as Array<keyof typeof SHELLS>) {
    it(`${shell}: TAB completes a command, then the values of -o`, async () => {
      await complete(shell, "picoseg sta", /[#$>] picoseg status(\s|$)/m);
      const screen = await complete(shell, "picoseg status -o ", /json\s+.*yaml|yaml\s+.*json/);
      for (const f of ["table", "wide", "json", "yaml"]) expect(screen).toContain(f);
      await complete(shell, "picoseg audit ve", /[#$>] picoseg audit verify(\s|$)/m);
    }, 90_000);
  }

  it("prints a script for each shell it supports and refuses another", () => {
    for (const shell of ["bash", "zsh", "fish"]) expect(execFileSync(process.execPath, [...PICOSEG_CLI, "completion", shell], { encoding: "utf8" })).toContain("picoseg");
    expect(() => execFileSync(process.execPath, [...PICOSEG_CLI, "completion", "tcsh"], { encoding: "utf8", stdio: "pipe" })).toThrow(/tcsh/);
  });
});
