// The one output module every command prints data through, and `picoseg --version`.
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cut, formatTable, serialized, TABLE_WIDTH, wrap } from "../../xds-server/src/cli/output.js";
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
