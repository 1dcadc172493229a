// The audit trail's hash chain: what a verifier accepts, and each way of tampering it refuses,
// naming the first entry that no longer holds.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditWriter, GENESIS, trailFiles, verifyTrail } from "../../xds-server/src/audit/chain.js";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

function trail(n: number, maxBytes?: number): string {
  dir = mkdtempSync(path.join(tmpdir(), "picoseg-audit-"));
  const file = path.join(dir, "audit.jsonl");
  const w = new AuditWriter(file, maxBytes !== undefined ? { maxBytes } : {});
  for (let i = 0; i < n; i++) w.append("test", { i, text: `entry number ${i}` });
  w.close();
  return file;
}

const lines = (f: string): string[] => readFileSync(f, "utf8").split("\n").filter((l) => l !== "");
const put = (f: string, ls: string[]): void => writeFileSync(f, ls.map((l) => `${l}\n`).join(""));

describe("audit trail", () => {
  it("an untouched trail verifies: seq 0.. in order, the first prev is the genesis, each prev the hash before", () => {
    const f = trail(5);
    const es = lines(f).map((l) => JSON.parse(l) as { seq: number; prev: string; hash: string });
    expect(es.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(es[0]!.prev).toBe(GENESIS);
    for (let i = 1; i < 5; i++) expect(es[i]!.prev).toBe(es[i - 1]!.hash);
    expect(verifyTrail(f)).toMatchObject({ ok: true, entries: 5, head: es[4]!.hash });
  });

  it("an altered entry is named (line 3, entry 2), even when only a value changed", () => {
    const f = trail(5);
    const ls = lines(f);
    ls[2] = ls[2]!.replace("entry number 2", "entry number 9");
    put(f, ls);
    expect(verifyTrail(f)).toMatchObject({ ok: false, entries: 2, failure: { file: f, line: 3, seq: 2, problem: "entry 2 was altered: its content does not match its hash" } });
  });

  it("a removed entry is named as removed at the place it is missing", () => {
    const f = trail(5);
    const ls = lines(f);
    ls.splice(1, 1);
    put(f, ls);
    expect(verifyTrail(f).failure).toMatchObject({ line: 2, seq: 2, problem: "entry 1 removed: entry 2 stands where entry 1 belongs" });
  });

  it("reordered entries are named as reordered", () => {
    const f = trail(5);
    const ls = lines(f);
    [ls[2], ls[3]] = [ls[3]!, ls[2]!];
    put(f, ls);
    expect(verifyTrail(f).failure).toMatchObject({ line: 3, seq: 3, problem: "entries reordered: entry 3 stands where entry 2 belongs" });
  });

  it("the last entries cut off leave a shorter valid chain: the head hash (kept elsewhere) is what shows it", () => {
    const f = trail(5);
    const head = verifyTrail(f).head;
    put(f, lines(f).slice(0, 3));
    const r = verifyTrail(f);
    expect(r.ok).toBe(true);
    expect(r.head).not.toBe(head);
  });

  it("a line that is not an entry is named", () => {
    const f = trail(3);
    const ls = lines(f);
    ls[1] = "{ not json";
    put(f, ls);
    expect(verifyTrail(f).failure).toMatchObject({ line: 2, problem: "not JSON (entry 1 expected here)" });
  });

  it("rotation by size keeps one chain across files; removing the oldest file is caught", () => {
    const f = trail(40, 1024);
    const files = trailFiles(f);
    expect(files.length).toBeGreaterThan(3);
    expect(files.at(-1)).toBe(f);
    expect(files[0]).toBe(`${f}.1`);
    for (const x of files) expect(readFileSync(x).length).toBeLessThanOrEqual(1024);
    expect(verifyTrail(f)).toMatchObject({ ok: true, entries: 40 });
    const firstOfSecond = JSON.parse(lines(files[1]!)[0]!) as { seq: number };
    unlinkSync(files[0]!);
    expect(verifyTrail(f).failure).toMatchObject({ file: files[1], line: 1, problem: `entry 0${firstOfSecond.seq > 1 ? `–${firstOfSecond.seq - 1}` : ""} removed: entry ${firstOfSecond.seq} stands where entry 0 belongs` });
  });

  it("a restarted writer continues the chain from the last entry, also right after a rotation", () => {
    const f = trail(40, 1024);
    const w = new AuditWriter(f, { maxBytes: 1024 });
    const e = w.append("restart", {});
    w.close();
    expect(e.seq).toBe(40);
    expect(verifyTrail(f)).toMatchObject({ ok: true, entries: 41 });
    // The live file gone (rotated just before a crash): the newest rotated file is the tail.
    const moved = `${f}.99`;
    writeFileSync(moved, readFileSync(f));
    unlinkSync(f);
    const w2 = new AuditWriter(f, { maxBytes: 1024 });
    expect(w2.append("again", {}).seq).toBe(41);
    w2.close();
    expect(verifyTrail(f)).toMatchObject({ ok: true, entries: 42 });
  });

  it("a writer refuses to continue past a last line that is not an entry, naming file and line", () => {
    const f = trail(3);
    writeFileSync(f, `${readFileSync(f, "utf8")}{"seq":3,"at":"x"\n`);
    expect(() => new AuditWriter(f)).toThrow(`${f}:4: cannot continue the audit trail: not JSON`);
  });

  it("no file at the path is a failure, not an empty success", () => {
    dir = mkdtempSync(path.join(tmpdir(), "picoseg-audit-"));
    const f = path.join(dir, "none.jsonl");
    expect(existsSync(f)).toBe(false);
    expect(verifyTrail(f)).toMatchObject({ ok: false, failure: { problem: "no audit log at this path" } });
  });
});
