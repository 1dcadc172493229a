import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ObservationStore } from "../../xds-server/src/telemetry/store.js";
import { report } from "./fixtures.js";

const entry = (at: number, seq: number, boot = 1, instance = 0) => ({ at, node: "db-1", workload: "payments/db", labels: { app: "db" }, report: report({ seq, boot, instance }) });

describe("the observation store", () => {
  it("keeps reports per workload and drops what is older than its window", () => {
    let now = 10_000_000;
    const store = new ObservationStore({ windowMs: 60_000, now: () => now });
    store.add(entry(now - 30_000, 1));
    store.add(entry(now, 2));
    expect(store.query("payments/db", 0).map((r) => r.report.seq)).toEqual([1, 2]);
    expect(store.query("payments/db", now).map((r) => r.report.seq)).toEqual([2]);
    now += 45_000;
    expect(store.query("payments/db", 0).map((r) => r.report.seq)).toEqual([2]);
    expect(store.query("other/x", 0)).toEqual([]);
  });

  it("stores a resent body once, and a restarted filter's new numbering anew", () => {
    const store = new ObservationStore();
    const now = Date.now();
    expect(store.add(entry(now, 1))).toBe(true);
    expect(store.add(entry(now + 1, 1))).toBe(false);
    expect(store.add(entry(now + 2, 1, 2))).toBe(true);
    expect(store.query("payments/db", 0)).toHaveLength(2);
  });

  it("keeps two workers' reports apart when their filters booted in the same µs", () => {
    const store = new ObservationStore();
    const now = Date.now();
    expect(store.add(entry(now, 1, 7, 0xdeadbeef))).toBe(true);
    expect(store.add(entry(now, 1, 7, 0x1234))).toBe(true);
    expect(store.add(entry(now + 1, 1, 7, 0x1234))).toBe(false);
    expect(store.query("payments/db", 0).map((r) => r.report.instance)).toEqual([0xdeadbeef, 0x1234]);
  });

  it("reads its JSON Lines file back after a restart, and still knows what it stored", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "picoseg-obs-")), "obs.jsonl");
    const now = Date.now();
    const first = new ObservationStore({ file });
    first.add(entry(now, 1));
    first.add(entry(now, 2));
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
    const second = new ObservationStore({ file });
    expect(second.query("payments/db", 0).map((r) => r.report.seq)).toEqual([1, 2]);
    expect(second.add(entry(now, 2))).toBe(false);
  });

  it("refuses a file with a malformed line, naming file and line; a torn last line is skipped", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "picoseg-obs-"));
    const good = JSON.stringify(entry(Date.now(), 1));
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(bad, `${good}\n{"at":1}\n${good}\n`);
    expect(() => new ObservationStore({ file: bad })).toThrow(`${bad}:2: expected {at, node, workload, report}`);
    const torn = path.join(dir, "torn.jsonl");
    writeFileSync(torn, `${good}\n`);
    appendFileSync(torn, good.slice(0, 40));
    const logs: string[] = [];
    const store = new ObservationStore({ file: torn, log: (l) => logs.push(l) });
    expect(store.query("payments/db", 0)).toHaveLength(1);
    expect(logs.join("\n")).toMatch(/torn\.jsonl:2: .*torn last line, ignored/);
    // The torn line is gone from the file: the next report is a line of its own, read back whole.
    store.add(entry(Date.now(), 2));
    expect(new ObservationStore({ file: torn }).query("payments/db", 0).map((r) => r.report.seq)).toEqual([1, 2]);
  });

  it("forgets a stream's last number with its last report, and rewrites its file without expired reports", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "picoseg-obs-")), "obs.jsonl");
    let now = 10_000_000;
    const store = new ObservationStore({ file, windowMs: 60_000, now: () => now });
    for (let seq = 1; seq <= 4; seq++) store.add(entry(now, seq));
    expect(store.add(entry(now, 4))).toBe(false);
    now += 61_000;
    // Past the window: nothing kept, the stream forgotten (its seq 4 is news again), and the
    // file, with 4 lines and none kept, rewritten empty at that prune.
    expect(store.query("payments/db", 0)).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe("");
    expect(store.add(entry(now, 4))).toBe(true);
    store.add(entry(now, 5));
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
    expect(new ObservationStore({ file, windowMs: 60_000, now: () => now }).query("payments/db", 0).map((r) => r.report.seq)).toEqual([4, 5]);
  });

  it("keeps its file when a rewrite fails, says so once, and tries again when the file has doubled", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "picoseg-obs-")), "obs.jsonl");
    mkdirSync(`${file}.rewrite`); // where the rewrite writes aside: it cannot
    const logs: string[] = [];
    let now = 10_000_000;
    const store = new ObservationStore({ file, windowMs: 60_000, now: () => now, log: (l) => logs.push(l) });
    store.add(entry(now, 1));
    store.add(entry(now, 2));
    now += 61_000;
    store.query("payments/db", 0); // nothing kept: a rewrite, which fails
    store.query("payments/db", 0);
    store.add(entry(now, 3));
    store.query("payments/db", 0); // 3 lines, not yet twice the 2 of the failure
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/could not rewrite .*obs\.jsonl without its expired reports/);
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(3);
    rmSync(`${file}.rewrite`, { recursive: true });
    store.add(entry(now, 4));
    store.query("payments/db", 0); // 4 lines, twice the 2 kept: rewritten
    expect(readFileSync(file, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { report: { seq: number } }).report.seq)).toEqual([3, 4]);
  });

  it("keeps at most maxBytes of reports in all: the oldest of any workload goes first, and it says so once", () => {
    const logs: string[] = [];
    const at = (workload: string, t: number, seq: number) => ({ ...entry(t, seq), workload, node: workload });
    const size = Buffer.byteLength(`${JSON.stringify(at("a/x", 1, 1))}\n`);
    const store = new ObservationStore({ maxBytes: 3 * size + size / 2, log: (l) => logs.push(l) });
    const now = Date.now();
    store.add(at("a/x", now, 1));
    store.add(at("b/y", now + 1, 1));
    store.add(at("a/x", now + 2, 2));
    expect(logs).toEqual([]);
    store.add(at("b/y", now + 3, 2)); // a fourth: a/x's first, the oldest, goes
    expect(store.query("a/x", 0).map((r) => r.report.seq)).toEqual([2]);
    expect(store.query("b/y", 0).map((r) => r.report.seq)).toEqual([1, 2]);
    store.add(at("b/y", now + 4, 3)); // then b/y's first
    store.add(at("b/y", now + 5, 4)); // then a/x's second, its last
    expect(store.workloads()).toEqual(["b/y"]);
    expect(store.query("b/y", 0).map((r) => r.report.seq)).toEqual([2, 3, 4]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/over \d+ bytes of reports, the oldest are dropped/);
  });

  it("reads back only what is inside the window, and leaves the file holding just that", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "picoseg-obs-")), "obs.jsonl");
    const now = 10_000_000;
    writeFileSync(file, [entry(now - 120_000, 1), entry(now - 90_000, 2), entry(now - 10_000, 3)].map((e) => `${JSON.stringify(e)}\n`).join(""));
    const store = new ObservationStore({ file, windowMs: 60_000, now: () => now });
    expect(store.query("payments/db", 0).map((r) => r.report.seq)).toEqual([3]);
    expect(readFileSync(file, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { report: { seq: number } }).report.seq)).toEqual([3]);
  });
});
