// A directory of PicoSegment YAML files, watched. Any change (edit, add, delete, rename, an
// editor's write-to-temp-then-rename) triggers a debounced rescan; only files whose bytes
// changed are validated again. A file with any invalid document is refused as a whole and
// its last good segments stay in force: a bad edit never replaces a good policy.
//
// A file is read only once it is stable: its size and mtime unchanged since a look at least one
// debounce earlier, or its mtime a debounce old (a file being written would otherwise be taken
// half way, and a prefix of a policy often parses). Writers should still write a temporary file
// and rename it over the policy (or swap a ConfigMap's ..data link): that is atomic.
// The directory itself is checked every `recheckMs`: when it is gone or unreadable the source is
// stale (health(), /readyz), and when a directory appears at the path again (a rename or a
// replacement, which leaves the watch on the old one) it is watched and read afresh.
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileTooLarge, MAX_FILE_BYTES } from "../policy/index.js";
import { SegmentStore } from "./segment-store.js";
import type { FileValidator, PolicySource, PolicyState, SourceHealth } from "./types.js";
import type { Refusal } from "../../../api/status.js";

export interface DirectorySourceOptions {
  validateFile: FileValidator;
  /** The same validation off the event loop (policy/validator-pool.ts); preferred when given. */
  validateFileAsync?: (file: string, text: string) => Promise<ReturnType<FileValidator>>;
  /** Quiet time after the last file event before rescanning (editors write in bursts). */
  debounceMs?: number;
  /** How often the directory itself is checked (gone, replaced). Default 1000 ms. */
  recheckMs?: number;
  now?: () => number;
}

/** Rounds of waiting for files still being written before the first state is published anyway. */
const START_ROUNDS = 40;

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
  /** Per file, `size:mtime` at the last look: a file is read once two looks agree. */
  private readonly looks = new Map<string, string>();
  /** Read files even if they are still changing (the last round of start()). */
  private forceRead = false;
  /** The watched directory's identity (dev:ino), to notice a replacement at the same path. */
  private watchedId = "";
  private recheckTimer: NodeJS.Timeout | undefined;
  /** Refusals of files read while the first state waited for others still being written. */
  private readonly heldRefusals: Refusal[] = [];
  private staleReason: string | undefined;

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
    this.watchedId = `${st.dev}:${st.ino}`;
    this.startWatching();
    await this.scan();
    for (let round = 1; this.files.current() === undefined && !this.closed; round++) {
      await new Promise((r) => setTimeout(r, this.debounceMs));
      this.forceRead = round >= START_ROUNDS;
      await this.scan();
    }
    this.forceRead = false;
    const every = this.opts.recheckMs ?? 1000;
    this.recheckTimer = setInterval(() => void this.recheck(), every);
    this.recheckTimer.unref();
    return this.files.current()!;
  }

  health(): SourceHealth {
    return this.staleReason === undefined ? { stale: false } : { stale: true, reason: this.staleReason };
  }

  /** Is the directory still there, and still the one watched? */
  private async recheck(): Promise<void> {
    if (this.closed) return;
    let id: string;
    try {
      const st = await stat(this.dir);
      if (!st.isDirectory()) throw new Error("not a directory");
      id = `${st.dev}:${st.ino}`;
    } catch (err) {
      this.staleReason = `${this.dir}: not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); serving the last good state`;
      return;
    }
    if (id !== this.watchedId) {
      // Renamed away and replaced: the watch still follows the old directory.
      this.watchedId = id;
      this.watcher?.close();
      this.startWatching();
      await this.scan();
    } else if (this.staleReason !== undefined) {
      await this.scan();
    }
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
    if (this.recheckTimer) clearInterval(this.recheckTimer);
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
          this.staleReason = undefined;
        } catch (err) {
          this.staleReason = `${this.dir}: not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); serving the last good state`;
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
    for (const file of this.looks.keys()) if (!seen.has(file)) this.looks.delete(file);
    let unstable = 0;
    for (const file of paths) {
      let text: string;
      let mtimeMs: number;
      try {
        const before = await stat(file);
        const look = `${before.size}:${before.mtimeMs}`;
        // File times are wall-clock times: compared with Date.now(), not opts.now.
        const settled = this.looks.get(file) === look || Date.now() - before.mtimeMs >= this.debounceMs;
        this.looks.set(file, look);
        if (!settled && !this.forceRead) {
          unstable++;
          continue;
        }
        if (before.size > MAX_FILE_BYTES) {
          // Refused unread: reading and parsing it is the cost the limit exists to avoid.
          const display = path.join(this.dirAsGiven, path.relative(this.dir, file));
          const refusal = { segments: [], errors: [{ file: display, line: 1, field: "", message: fileTooLarge(before.size) }] };
          if (this.files.update(file, display, `\0unread ${look}`, fresh, Math.floor(before.mtimeMs), refusal)) changed = true;
          continue;
        }
        text = await readFile(file, "utf8");
        const after = await stat(file);
        if (`${after.size}:${after.mtimeMs}` !== look && !this.forceRead) {
          this.looks.set(file, `${after.size}:${after.mtimeMs}`);
          unstable++;
          continue; // written to while we read it
        }
        mtimeMs = Math.floor(before.mtimeMs);
      } catch {
        continue; // vanished between listing and reading; the next event rescans
      }
      const display = path.join(this.dirAsGiven, path.relative(this.dir, file));
      if (this.files.holds(file, text)) continue;
      const validated = this.opts.validateFileAsync ? await this.opts.validateFileAsync(display, text) : undefined;
      if (this.files.update(file, display, text, fresh, mtimeMs, validated)) changed = true;
    }
    // Files still changing: look again after a debounce (no event may come if the writer is done).
    if (unstable > 0) this.schedule();
    // The first state waits for every file (start() bounds the wait): a half-read directory
    // would publish a partial policy, and an empty one a deny-all.
    if (unstable > 0 && this.files.current() === undefined) {
      this.heldRefusals.push(...fresh); // reported with the first state
      return;
    }
    if (!changed) return;
    // Two files that define one segment: the first by path stays, the other is refused.
    this.files.publish(this.dirMtimeMs, [...this.heldRefusals.splice(0), ...fresh]);
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
