// The one output module every command prints data through, and `picoseg --version`.
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { colorsFor, cut, formatTable, serialized, TABLE_WIDTH, wrap } from "../../xds-server/src/cli/output.js";
import { withProgress, wrapCommand } from "../../xds-server/src/util/index.js";
import { PICOSEG_CLI } from "../../testkit/cli/index.js";
import { filterWasmPath } from "../../xds-server/src/util/index.js";

const run = promisify(execFile);
const picoseg = (...args: string[]): Promise<{ stdout: string; stderr: string }> => run(process.execPath, [...PICOSEG_CLI, ...args]);
const longest = (text: string): number => Math.max(...text.split("\n").map((l) => l.length));

describe("tables", () => {
  const columns = [{ head: "NODE", shrink: true }, { head: "STATE" }, { head: "DETAIL", wide: true }];
  const node = `sidecar~10.0.0.1~${"payments-api-7d9f8c6b5-x2k4p".repeat(4)}.payments~payments.svc.cluster.local`;

  it("the default fits 100 columns: a long id is cut in its middle, states stay whole, wide-only columns left out", () => {
    const out = formatTable(columns, [[node, "in sync", "detail"]]);
    expect(longest(out)).toBeLessThanOrEqual(TABLE_WIDTH);
    const [head, row] = out.trimEnd().split("\n");
    expect(head).toMatch(/^NODE\s+STATE$/);
    expect(row).toMatch(/^sidecar~10\.0\.0\.1~payments-api.*….*\.svc\.cluster\.local\s+in sync$/);
  });

  it("-o wide shows every column, whole", () => {
    const out = formatTable(columns, [[node, "in sync", "detail"]], { wide: true });
    expect(out.split("\n")[1]).toBe(`${node}  in sync  detail`);
  });

  it("cut keeps both ends; wrap breaks at spaces and never loses a character", () => {
    expect(cut("abcdefghij", 5)).toBe("ab…ij");
    expect(cut("abc", 5)).toBe("abc");
    const text = `note: ${"word ".repeat(40)}${"x".repeat(150)} end`;
    const wrapped = wrap(text);
    expect(longest(wrapped)).toBeLessThanOrEqual(TABLE_WIDTH);
    expect(wrapped.replace(/\n\s*/g, "").replace(/\s/g, "")).toBe(text.replace(/\s/g, ""));
  });

  it("the highest-ranked column gives first, down to its floor; colour takes no width", () => {
    const cols = [{ head: "a", shrink: 1, min: 10 }, { head: "b", shrink: 2, min: 10 }, { head: "c", style: (s: string) => `\x1b[31m${s}\x1b[39m` }];
    const out = formatTable(cols, [["a".repeat(90), "b".repeat(60), "ok"]], { rule: true });
    const [head, rule, row] = out.trimEnd().split("\n");
    expect(row!.replace(/\x1b\[\d+m/g, "").length).toBeLessThanOrEqual(TABLE_WIDTH);
    expect(row).toMatch(/^a{42}…a{41}  b{5}…b{4}  \x1b\[31mok\x1b\[39m$/); // b cut to its floor first, then a as needed
    expect(rule).toBe(`${"-".repeat(84)}  ${"-".repeat(10)}  --`);
    expect(head).toMatch(/^a\s+b\s+c$/);
  });

  it("a shell command wraps with continuation backslashes and keeps every word", () => {
    const command = `curl -s --cacert ${"/tmp/picoseg-demo-x/certs/".repeat(3)}ca.pem --cert /tmp/c.pem --key /tmp/k.pem https://127.0.0.4:8080/reports`;
    const lines = wrapCommand(command).split("\n");
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(TABLE_WIDTH);
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/ \\$/);
    expect(lines.map((l) => l.replace(/ \\$/, "").trim()).join(" ")).toBe(command);
  });

  it("colours only on a terminal, and never with NO_COLOR", () => {
    const saved = { NO_COLOR: process.env["NO_COLOR"], TERM: process.env["TERM"] };
    try {
      delete process.env["NO_COLOR"];
      process.env["TERM"] = "xterm";
      expect(colorsFor({ isTTY: false }).red("x")).toBe("x");
      expect(colorsFor({ isTTY: true }).red("x")).toBe("\x1b[31mx\x1b[39m");
      process.env["NO_COLOR"] = "1";
      expect(colorsFor({ isTTY: true }).red("x")).toBe("x");
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("progress shows on a terminal while the work runs, and is erased; nothing when not a terminal", async () => {
    const slow = <T,>(v: T): Promise<T> => new Promise((r) => setTimeout(() => r(v), 450));
    const tty = { isTTY: true, text: "", write(t: string) { this.text += t; } };
    expect(await withProgress("learning", slow(7), tty, 100)).toBe(7);
    expect(tty.text).toMatch(/^\r\S learning 0s\x1b\[K/);
    expect(tty.text.endsWith("\r\x1b[K")).toBe(true);
    const pipe = { isTTY: false, text: "", write(t: string) { this.text += t; } };
    expect(await withProgress("learning", slow(8), pipe, 100)).toBe(8);
    expect(pipe.text).toBe("");
  });

  it("json and yaml carry the same data", () => {
    const data = { a: 1, b: ["x", "y"], c: { d: null } };
    expect(JSON.parse(serialized("json", data)!)).toEqual(data);
    expect(parse(serialized("yaml", data)!)).toEqual(data);
    expect(serialized("table", data)).toBeUndefined();
  });
});

describe("picoseg --version", () => {
  it("names the filter module by its sha256 and the Envoy picoseg is tested with, which is the one installed", async () => {
    const { stdout } = await picoseg("--version");
    const sha = createHash("sha256").update(readFileSync(filterWasmPath())).digest("hex");
    expect(stdout).toMatch(/^picoseg \d+\.\d+\.\d+ \(node \d+\.\d+\.\d+\)\n/);
    expect(stdout).toContain(`filter  sha256:${sha}\n`);
    const tested = /envoy {3}(\S+) \(the release picoseg is tested with\)/.exec(stdout)?.[1];
    const installed = (await picoseg("envoy", "--version")).stdout;
    expect(installed).toContain(`/${tested}/`);
    const json = JSON.parse((await picoseg("version", "-o", "json")).stdout) as { filter: { sha256: string }; envoyTested: string };
    expect(json).toMatchObject({ filter: { sha256: sha }, envoyTested: tested });
  });

  it("refuses an output format it does not have", async () => {
    await expect(picoseg("version", "-o", "xml")).rejects.toMatchObject({ stderr: expect.stringMatching(/-o, --output.*xml.*table, wide, json, yaml/s) });
  });
});
