// A directory of PicoSegment YAML files, watched. Any change (edit, add, delete, rename, an
// editor's write-to-temp-then-rename) triggers a debounced rescan; only files whose bytes
// changed are validated again. A file with any invalid document is refused as a whole and
// its last good segments stay in force: a bad edit never replaces a good policy.
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { LoadedSegment, PolicyError } from "../policy/types.js";
import { formatPolicyError } from "../policy/types.js";
import type { FileValidator, PolicySource, PolicyState, Refusal } from "./types.js";

export interface DirectorySourceOptions {
  validateFile: FileValidator;
  /** Quiet time after the last file event before rescanning (editors write in bursts). */
  debounceMs?: number;
  now?: () => number;
}

interface FileEntry {
  text: string;
  /** Last good segments of this file (kept while the file is refused). */
  segments: LoadedSegment[];
  /** The file's mtime (ms) when those segments were read. */
  mtimeMs: number;
  refusals: Refusal[];
}

const POLICY_FILE = /\.ya?ml$/i;

export class DirectorySource implements PolicySource {
  readonly description: string;
  private readonly files = new Map<string, FileEntry>();
  private readonly listeners = new Set<(s: PolicyState, r: readonly Refusal[]) => void>();
  private state: PolicyState | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanAgain = false;
  /** Duplicate-definition refusals already reported, so each is counted once, not on every scan. */
  private reportedDuplicates = new Set<string>();
  /** Newest mtime of the directory tree's directories: entries added, removed, renamed. */
  private dirMtimeMs = 0;
  private closed = false;
  private readonly debounceMs: number;
  private readonly now: () => number;

  readonly dir: string;

  constructor(
    /** As the operator gave it: errors name files under it (`policies/db.yaml:3: …`). */
    private readonly dirAsGiven: string,
    private readonly opts: DirectorySourceOptions,
  ) {
    this.dir = path.resolve(dirAsGiven);
    this.description = `dir:${this.dir}`;
    this.debounceMs = opts.debounceMs ?? 150;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<PolicyState> {
    const st = await stat(this.dir);
    if (!st.isDirectory()) throw new Error(`${this.dir}: not a directory`);
    this.startWatching();
    await this.scan();
    return this.state!;
  }

  current(): PolicyState | undefined {
    return this.state;
  }

  onChange(listener: (state: PolicyState, newRefusals: readonly Refusal[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.scanning;
  }

  /** Rescans now (tests, or a caller that knows files changed). */
  async rescan(): Promise<void> {
    await this.scan();
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.dir, { recursive: true }, () => this.schedule());
      this.watcher.on("error", (err) => {
        console.error(`picoseg: watching ${this.dir} failed (${err.message}); retrying`);
        this.watcher?.close();
        setTimeout(() => !this.closed && this.startWatching(), 1000).unref();
      });
    } catch (err) {
      console.error(`picoseg: cannot watch ${this.dir}: ${(err as Error).message}; retrying`);
      setTimeout(() => !this.closed && this.startWatching(), 1000).unref();
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.scan();
    }, this.debounceMs);
  }

  // One scan at a time; events during a scan cause one more scan after it.
  private async scan(): Promise<void> {
    if (this.scanning) {
      this.rescanAgain = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescanAgain = false;
        try {
          await this.scanOnce();
        } catch (err) {
          console.error(`picoseg: scanning ${this.dir} failed: ${(err as Error).message}`);
        }
      } while (this.rescanAgain && !this.closed);
    })();
    try {
      await this.scanning;
    } finally {
      this.scanning = undefined;
    }
  }

  private async scanOnce(): Promise<void> {
    const { files: paths, dirMtimeMs } = await listPolicyFiles(this.dir);
    this.dirMtimeMs = Math.max(this.dirMtimeMs, dirMtimeMs);
    let changed = this.state === undefined;
    const fresh: Refusal[] = [];
    const seen = new Set(paths);
    for (const file of [...this.files.keys()]) {
      if (!seen.has(file)) {
        this.files.delete(file); // deleted or renamed away: its segments go with it
        changed = true;
      }
    }
    for (const file of paths) {
      let text: string;
      let mtimeMs: number;
      try {
        text = await readFile(file, "utf8");
        mtimeMs = Math.floor((await stat(file)).mtimeMs);
      } catch {
        continue; // vanished between listing and reading; the next event rescans
      }
      const prev = this.files.get(file);
      if (prev && prev.text === text) continue;
      changed = true;
      const display = path.join(this.dirAsGiven, path.relative(this.dir, file));
      const { segments, errors } = this.opts.validateFile(display, text);
      if (errors.length === 0) {
        this.files.set(file, { text, segments, mtimeMs, refusals: [] });
      } else {
        const at = this.now();
        const refusals = errors.map((e) => toRefusal(e, at));
        fresh.push(...refusals);
        this.files.set(file, { text, segments: prev?.segments ?? [], mtimeMs: prev?.mtimeMs ?? 0, refusals });
      }
    }
    if (!changed) return;
    this.publish(fresh);
  }

  private publish(fresh: Refusal[]): void {
    const segments: LoadedSegment[] = [];
    const refusals: Refusal[] = [];
    const owner = new Map<string, LoadedSegment>();
    const changedAt = new Map<string, number>();
    const at = this.now();
    const duplicates = new Set<string>();
    for (const file of [...this.files.keys()].sort()) {
      const entry = this.files.get(file)!;
      refusals.push(...entry.refusals);
      for (const s of entry.segments) {
        const key = `${s.segment.metadata.namespace}/${s.segment.metadata.name}`;
        const first = owner.get(key);
        if (first) {
          // Two documents claim one segment: the first (by path) stays, the other is refused.
          const r = toRefusal(
            {
              file: s.source.file,
              line: s.source.line,
              field: "metadata.name",
              message: `segment ${key} is already defined at ${first.source.file}:${first.source.line}`,
            },
            at,
          );
          refusals.push(r);
          duplicates.add(r.text);
          if (!this.reportedDuplicates.has(r.text)) fresh.push(r);
          continue;
        }
        owner.set(key, s);
        changedAt.set(key, entry.mtimeMs);
        segments.push(s);
      }
    }
    this.reportedDuplicates = duplicates;
    this.state = {
      segments,
      refusals,
      revision: (this.state?.revision ?? 0) + 1,
      loadedAt: at,
      changedAt,
      changeFloor: this.dirMtimeMs,
    };
    for (const l of this.listeners) l(this.state, fresh);
  }
}

function toRefusal(e: PolicyError, at: number): Refusal {
  return { ...e, text: formatPolicyError(e), at };
}

/**
 * Every *.yaml / *.yml below `dir`, skipping hidden names (editor temp files, and the `..data`
 * directory of a Kubernetes ConfigMap volume, whose files are reached through the symlinks next
 * to it). Symlinks are followed. An unreadable root throws, so the caller keeps its last state
 * instead of taking a vanished directory for an empty one.
 */
async function listPolicyFiles(dir: string): Promise<{ files: string[]; dirMtimeMs: number }> {
  const out: string[] = [];
  let dirMtimeMs = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
      dirMtimeMs = Math.max(dirMtimeMs, Math.floor((await stat(d)).mtimeMs));
    } catch (err) {
      if (depth === 0) throw err;
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const full = path.join(d, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined); // a dangling link is no file
        isDir = target?.isDirectory() ?? false;
        isFile = target?.isFile() ?? false;
      }
      if (isDir && depth < 16) await walk(full, depth + 1);
      else if (isFile && POLICY_FILE.test(e.name)) out.push(full);
    }
  };
  await walk(dir, 0);
  return { files: out.sort(), dirMtimeMs };
}
