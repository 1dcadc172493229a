// A directory of PicoSegment YAML files, watched. Any change (edit, add, delete, rename, an
// editor's write-to-temp-then-rename) triggers a debounced rescan; only files whose bytes
// changed are validated again. A file with any invalid document is refused as a whole and
// its last good segments stay in force: a bad edit never replaces a good policy.
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { SegmentStore } from "./segment-store.js";
import type { FileValidator, PolicySource, PolicyState, Refusal } from "./types.js";

export interface DirectorySourceOptions {
  validateFile: FileValidator;
  /** Quiet time after the last file event before rescanning (editors write in bursts). */
  debounceMs?: number;
  now?: () => number;
}

const POLICY_FILE = /\.ya?ml$/i;

export class DirectorySource implements PolicySource {
  readonly description: string;
  /** By absolute path; a file's segments change at its mtime. */
  private readonly files: SegmentStore;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanAgain = false;
  /** Newest mtime of the directory tree's directories: entries added, removed, renamed. */
  private dirMtimeMs = 0;
  private closed = false;
  private readonly debounceMs: number;

  readonly dir: string;

  constructor(
    /** As the operator gave it: errors name files under it (`policies/db.yaml:3: …`). */
    private readonly dirAsGiven: string,
    private readonly opts: DirectorySourceOptions,
  ) {
    this.dir = path.resolve(dirAsGiven);
    this.description = `dir:${this.dir}`;
    this.debounceMs = opts.debounceMs ?? 150;
    this.files = new SegmentStore(opts.validateFile, opts.now ?? Date.now);
  }

  async start(): Promise<PolicyState> {
    const st = await stat(this.dir);
    if (!st.isDirectory()) throw new Error(`${this.dir}: not a directory`);
    this.startWatching();
    await this.scan();
    return this.files.current()!;
  }

  current(): PolicyState | undefined {
    return this.files.current();
  }

  onChange(listener: (state: PolicyState, newRefusals: readonly Refusal[]) => void): () => void {
    return this.files.onChange(listener);
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
    let changed = this.files.current() === undefined;
    const fresh: Refusal[] = [];
    const seen = new Set(paths);
    for (const file of this.files.keys()) {
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
      const display = path.join(this.dirAsGiven, path.relative(this.dir, file));
      if (this.files.update(file, display, text, fresh, mtimeMs)) changed = true;
    }
    if (!changed) return;
    // Two files that define one segment: the first by path stays, the other is refused.
    this.files.publish(this.dirMtimeMs, fresh);
  }
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
