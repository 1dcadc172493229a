// The audit trail's file format: JSON Lines, each entry carrying the hash of the one before it,
// so that altering, removing or reordering an entry breaks every link after it (a hash chain, as
// in Certificate Transparency's log or git's history). Rotation by size moves the live file to
// FILE.1, FILE.2, … (oldest first); the chain runs on across files, and a restarted writer
// continues it from the last entry it finds.
//
// An entry is `{"seq":N,"at":"ISO time","kind":"…","data":{…},"prev":"hex","hash":"hex"}` where
// `hash` = sha256 of the line's JSON without the `hash` member, exactly as written. A verifier
// recomputes it from the parsed object, so any edit — even of whitespace inside a value — shows.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";

/** The `prev` of the first entry ever written. */
export const GENESIS = "0".repeat(64);

export interface AuditEntry {
  seq: number;
  /** ISO 8601 time of writing. */
  at: string;
  kind: string;
  data: Record<string, unknown>;
  prev: string;
  hash: string;
}

function entryHash(e: Omit<AuditEntry, "hash">): string {
  // Key order is fixed here, and JSON.parse keeps it, so a verifier rebuilds the same text.
  const body = JSON.stringify({ seq: e.seq, at: e.at, kind: e.kind, data: e.data, prev: e.prev });
  return createHash("sha256").update(body).digest("hex");
}

/** The files of one trail, oldest first: FILE.1, FILE.2, …, then FILE itself when it exists. */
export function trailFiles(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const rotated: Array<{ n: number; f: string }> = [];
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const m = /^\.(\d+)$/.exec(name.slice(base.length));
    if (name.startsWith(base) && m) rotated.push({ n: Number(m[1]), f: path.join(dir, name) });
  }
  rotated.sort((a, b) => a.n - b.n);
  return [...rotated.map((r) => r.f), ...(existsSync(file) ? [file] : [])];
}

export interface AuditWriterOptions {
  /** Rotate the live file before it would pass this size (bytes). Default 10 MiB. */
  maxBytes?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * Appends entries to FILE. Opening reads the last entry of the trail (FILE, else its newest
 * rotated file) and continues from its hash and sequence number; a last line that does not parse
 * is refused with its file and line, since continuing past it would hide what happened there.
 */
export class AuditWriter {
  private fd: number;
  private size: number;
  private prev: string;
  private seq: number;
  private readonly maxBytes: number;
  private readonly now: () => Date;

  constructor(readonly file: string, opts: AuditWriterOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
    this.now = opts.now ?? (() => new Date());
    const last = lastEntry(file);
    this.prev = last?.hash ?? GENESIS;
    this.seq = last ? last.seq + 1 : 0;
    this.fd = openSync(file, "a", 0o640);
    this.size = fstatSync(this.fd).size;
  }

  /** Writes one entry (synchronously: an audit line must not be lost to a crash after the fact). */
  append(kind: string, data: Record<string, unknown>): AuditEntry {
    const partial = { seq: this.seq, at: this.now().toISOString(), kind, data, prev: this.prev };
    const entry: AuditEntry = { ...partial, hash: entryHash(partial) };
    const line = `${JSON.stringify(entry)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    writeSync(this.fd, line);
    this.size += bytes;
    this.prev = entry.hash;
    this.seq += 1;
    return entry;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    closeSync(this.fd);
    const files = trailFiles(this.file);
    const newest = files.length > 1 ? Number(/\.(\d+)$/.exec(files[files.length - 2]!)![1]) : 0;
    renameSync(this.file, `${this.file}.${newest + 1}`);
    this.fd = openSync(this.file, "a", 0o640);
    this.size = 0;
  }
}

function lastEntry(file: string): AuditEntry | undefined {
  for (const f of trailFiles(file).reverse()) {
    const lines = readFileSync(f, "utf8").split("\n");
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    if (lines.length === 0) continue;
    const parsed = parseEntry(lines[lines.length - 1]!);
    if (typeof parsed === "string") throw new Error(`${f}:${lines.length}: cannot continue the audit trail: ${parsed}`);
    return parsed;
  }
  return undefined;
}

/** The entry on a line, or why it is not one. */
function parseEntry(line: string): AuditEntry | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not a JSON object";
  const o = v as Record<string, unknown>;
  for (const [k, t] of [["seq", "number"], ["at", "string"], ["kind", "string"], ["data", "object"], ["prev", "string"], ["hash", "string"]] as const) {
    if (typeof o[k] !== t || o[k] === null) return `field ${k}: expected a ${t}`;
  }
  return o as unknown as AuditEntry;
}

export interface VerifyResult {
  ok: boolean;
  files: string[];
  entries: number;
  /** The hash of the last entry: keep it elsewhere (a ticket, another system) to anchor the chain. */
  head?: string;
  /** The first broken link: where, which entry, and what is wrong. */
  failure?: { file: string; line: number; seq?: number; problem: string };
}

/**
 * Checks the whole trail from its first entry: every line an entry, every hash its content's,
 * every `prev` the hash of the entry before, sequence numbers 0, 1, 2, … without gap. An altered
 * entry fails its own hash; a removed one leaves a gap in `seq` and a `prev` that points nowhere;
 * reordered ones fail the links; removing the oldest file leaves a first entry that is not 0.
 */
export function verifyTrail(file: string): VerifyResult {
  const files = trailFiles(file);
  if (files.length === 0) return { ok: false, files, entries: 0, failure: { file, line: 0, problem: "no audit log at this path" } };
  const lines: Array<{ file: string; line: number; text: string }> = [];
  for (const f of files) {
    const texts = readFileSync(f, "utf8").split("\n");
    if (texts[texts.length - 1] === "") texts.pop();
    texts.forEach((text, i) => lines.push({ file: f, line: i + 1, text }));
  }
  const parsed = lines.map((l) => parseEntry(l.text));
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    const at = { file: lines[i]!.file, line: lines[i]!.line };
    const e = parsed[i]!;
    if (typeof e === "string") return { ok: false, files, entries: i, failure: { ...at, problem: `${e} (entry ${i} expected here)` } };
    const fail = (problem: string): VerifyResult => ({ ok: false, files, entries: i, failure: { ...at, seq: e.seq, problem } });
    if (entryHash(e) !== e.hash) return fail(`entry ${e.seq} was altered: its content does not match its hash`);
    if (e.seq !== i) {
      // The missing entry further on means the order was changed; nowhere, that it was removed.
      const later = parsed.slice(i + 1).some((x) => typeof x !== "string" && x.seq === i);
      if (later || e.seq < i) return fail(`entries reordered: entry ${e.seq} stands where entry ${i} belongs`);
      return fail(`entry ${i}${e.seq > i + 1 ? `–${e.seq - 1}` : ""} removed: entry ${e.seq} stands where entry ${i} belongs`);
    }
    if (e.prev !== prev) return fail(`entry ${e.seq} does not follow the entry before it (its prev is not that entry's hash): removed or reordered`);
    prev = e.hash;
  }
  return { ok: true, files, entries: lines.length, head: prev };
}
