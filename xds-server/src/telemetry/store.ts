// What the server keeps of the proxies' reports: per workload, the reports of the last `window`,
// in memory, and (optionally) appended to a JSON Lines file that a restarted server reads back,
// so that learning does not start over. A resent body (same node, boot, instance and seq) is
// stored once. Nothing grows past the window: a stream's last number is forgotten with its last
// report, and the file is rewritten with what is kept once it holds twice as many lines. Nor past
// `maxBytes` (the reports' JSON, all workloads together): the oldest report goes first.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { parseReport, ReportError } from "./report.js";
import { type ProxyReport } from "../../../api/report.js";
import { errorMessage } from "../util/index.js";

/** One accepted report: when it arrived, from which proxy, for which workload (NS/NAME). */
export interface StoredReport {
  at: number;
  node: string;
  workload: string;
  /** The workload's labels as its proxy announced them (what a proposal's selector uses). */
  labels: Record<string, string>;
  report: ProxyReport;
}

export interface ObservationStoreOptions {
  /** How long reports are kept (ms). Default 7 days. */
  windowMs?: number;
  /** JSON Lines file: read at start, appended to on each report. */
  file?: string;
  /** Reports kept per workload at most; the oldest go first. Default 100,000. */
  maxPerWorkload?: number;
  /** Bytes of reports (their JSON lines) kept in all, at most; the oldest go first. Default 256 MiB. */
  maxBytes?: number;
  now?: () => number;
  log?: (line: string) => void;
}

export const DEFAULT_OBSERVATION_WINDOW_MS = 7 * 24 * 3600_000;
export const DEFAULT_OBSERVATION_MAX_BYTES = 256 * 1024 * 1024;

/** Names one report: the same node, filter boot and instance, and seq is the same body, wherever it was stored. */
export function reportKey(entry: StoredReport): string {
  return `${streamOf(entry)}\0${entry.report.seq}`;
}

/** A filter instance's stream of reports: its node, boot and instance. */
function streamOf(entry: Pick<StoredReport, "node" | "report">): string {
  return `${entry.node}\0${entry.report.boot}\0${entry.report.instance}`;
}

/** One stored report read back (a file line, a peer's answer); checked field by field, else a ReportError. */
export function parseStoredReport(value: unknown): StoredReport {
  const e = (typeof value === "object" && value !== null ? value : {}) as Partial<StoredReport>;
  if (typeof e.at !== "number" || typeof e.node !== "string" || typeof e.workload !== "string") {
    throw new ReportError("expected {at, node, workload, report}");
  }
  const report = parseReport(JSON.stringify(e.report));
  const labels = e.labels ?? {};
  if (typeof labels !== "object" || Object.values(labels).some((v) => typeof v !== "string")) throw new ReportError("labels: expected a map of strings");
  return { at: e.at, node: e.node, workload: e.workload, labels, report };
}

export class ObservationStore {
  private readonly byWorkload = new Map<string, StoredReport[]>();
  /** Per report stream, the highest seq stored and when its report arrived, to store a resent body once. */
  private readonly lastSeq = new Map<string, { seq: number; at: number }>();
  /** Lines in the file (kept or not): when they reach twice what is kept, the file is rewritten. */
  private fileLines = 0;
  /** After a failed rewrite, the file's length at which to try again (twice what it was). */
  private retryAtLines = 0;
  /** Each kept report's size (its JSON line), and their sum. */
  private readonly sizes = new WeakMap<StoredReport, number>();
  private bytes = 0;
  private evictedOnce = false;
  private readonly windowMs: number;
  private readonly maxPerWorkload: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(private readonly opts: ObservationStoreOptions = {}) {
    this.windowMs = opts.windowMs ?? DEFAULT_OBSERVATION_WINDOW_MS;
    this.maxPerWorkload = opts.maxPerWorkload ?? 100_000;
    this.maxBytes = opts.maxBytes ?? DEFAULT_OBSERVATION_MAX_BYTES;
    this.now = opts.now ?? Date.now;
    if (opts.file !== undefined && existsSync(opts.file)) this.load(opts.file);
  }

  /** Stores one report; false when it is a resent body already stored. */
  add(entry: StoredReport): boolean {
    const stream = streamOf(entry);
    const last = this.lastSeq.get(stream);
    if (last !== undefined && entry.report.seq <= last.seq) return false;
    this.lastSeq.set(stream, { seq: entry.report.seq, at: entry.at });
    const line = `${JSON.stringify(entry)}\n`;
    this.keep(entry, Buffer.byteLength(line));
    if (this.opts.file !== undefined) {
      appendFileSync(this.opts.file, line);
      this.fileLines++;
    }
    return true;
  }

  /** The reports of a workload (NS/NAME) that arrived at or after `sinceMs`, oldest first. */
  query(workload: string, sinceMs: number): StoredReport[] {
    this.prune();
    return (this.byWorkload.get(workload) ?? []).filter((r) => r.at >= sinceMs);
  }

  /** Every workload's reports that arrived at or after `sinceMs`. */
  all(sinceMs: number): StoredReport[] {
    this.prune();
    return [...this.byWorkload.values()].flatMap((list) => list.filter((r) => r.at >= sinceMs));
  }

  /** The reports the given nodes sent, whatever workload they were filed under, since `sinceMs`. */
  fromNodes(nodeIds: readonly string[], sinceMs: number): StoredReport[] {
    this.prune();
    const wanted = new Set(nodeIds);
    return [...this.byWorkload.values()].flatMap((list) => list.filter((r) => wanted.has(r.node) && r.at >= sinceMs));
  }

  workloads(): string[] {
    this.prune();
    return [...this.byWorkload.keys()].sort();
  }

  private keep(entry: StoredReport, size: number): void {
    let list = this.byWorkload.get(entry.workload);
    if (!list) this.byWorkload.set(entry.workload, (list = []));
    list.push(entry);
    this.sizes.set(entry, size);
    this.bytes += size;
    if (list.length > this.maxPerWorkload) this.dropOldest(entry.workload, list, list.length - this.maxPerWorkload);
    while (this.bytes > this.maxBytes) this.evictOldest();
  }

  /** Drops the oldest report of all workloads (each list is in arrival order). */
  private evictOldest(): void {
    let oldest: [string, StoredReport[]] | undefined;
    for (const [w, list] of this.byWorkload) if (oldest === undefined || list[0]!.at < oldest[1][0]!.at) oldest = [w, list];
    if (oldest === undefined) return;
    if (!this.evictedOnce) {
      this.evictedOnce = true;
      this.opts.log?.(`picoseg: observations: over ${this.maxBytes} bytes of reports, the oldest are dropped before the end of their window`);
    }
    this.dropOldest(oldest[0], oldest[1], 1);
  }

  /** Drops the `n` oldest reports of `workload`'s list. */
  private dropOldest(workload: string, list: StoredReport[], n: number): void {
    for (const gone of list.splice(0, n)) this.bytes -= this.sizes.get(gone) ?? 0;
    if (list.length === 0) this.byWorkload.delete(workload);
  }

  private prune(): void {
    const floor = this.now() - this.windowMs;
    for (const [w, list] of this.byWorkload) {
      let i = 0;
      while (i < list.length && list[i]!.at < floor) i++;
      if (i > 0) this.dropOldest(w, list, i);
    }
    for (const [stream, last] of this.lastSeq) if (last.at < floor) this.lastSeq.delete(stream);
    if (this.opts.file !== undefined && this.fileLines > 0 && this.fileLines >= Math.max(2 * this.kept(), this.retryAtLines)) this.rewrite(this.opts.file);
  }

  private kept(): number {
    let n = 0;
    for (const list of this.byWorkload.values()) n += list.length;
    return n;
  }

  /**
   * Replaces the file by the reports kept, whole or not at all (written aside, then renamed). A
   * failure (a full disk) leaves the file as it was, to be tried again once it has doubled.
   */
  private rewrite(file: string): void {
    const lines = [...this.byWorkload.values()].flatMap((list) => list.map((e) => `${JSON.stringify(e)}\n`));
    const aside = `${file}.rewrite`;
    try {
      writeFileSync(aside, lines.join(""));
      renameSync(aside, file);
      this.fileLines = lines.length;
      this.retryAtLines = 0;
    } catch (err) {
      this.retryAtLines = 2 * this.fileLines;
      this.opts.log?.(`picoseg: could not rewrite ${file} without its expired reports: ${errorMessage(err)}`);
    }
  }

  /**
   * Reads the file back; a malformed line is an error naming it, except a torn last line (a crash
   * mid-write), which the file is then rewritten without: the next line appended would join it.
   */
  private load(file: string): void {
    const lines = readFileSync(file, "utf8").split("\n");
    const floor = this.now() - this.windowMs;
    let torn = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === "") continue;
      this.fileLines++;
      try {
        const entry = parseStoredReport(JSON.parse(line));
        if (entry.at < floor) continue;
        const stream = streamOf(entry);
        const last = this.lastSeq.get(stream);
        if (last === undefined || entry.report.seq > last.seq) this.lastSeq.set(stream, { seq: entry.report.seq, at: entry.at });
        this.keep(entry, Buffer.byteLength(line) + 1);
      } catch (err) {
        const msg = `${file}:${i + 1}: ${errorMessage(err)}`;
        if (!lines.slice(i + 1).every((l) => l.trim() === "")) throw new Error(msg);
        this.opts.log?.(`picoseg: ${msg} (a torn last line, ignored)`);
        torn = true;
      }
    }
    if (torn || (this.fileLines > 0 && this.fileLines >= 2 * this.kept())) this.rewrite(file);
  }
}
