// Builds filter/testing/stages.ts (the filter's pure stages over plain memory) with the
// project's asc into .tmp/filter-stages/, once per version of the filter's sources, and
// instantiates it for the tests in this folder: no host, no emulator.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const ENTRY_DIR = path.join(REPO, "filter", "testing");
const SOURCES = [path.join(REPO, "filter", "assembly"), path.join(REPO, "filter", "assembly", "wire"), ENTRY_DIR];
const OUT_DIR = path.join(REPO, ".tmp", "filter-stages");

interface StageExports {
  memory: WebAssembly.Memory;
  bytes(n: number): number;
  loadConfig(ptr: number, len: number): number;
  fillCount(): number;
  bytesAskedCount(): bigint;
  failNextFills(fail: number): void;
  frameReset(): void;
  frameFeed(rule: number, buf: number, size: number, start: number, end: number): number;
  framePos(): bigint;
  frameLen(): bigint;
  sniffBuffer(buf: number, size: number, fromServer: number, end: number): number;
  sniffPrefix(buf: number, len: number, fromServer: number, final: number): number;
  admit(rule: number, cur: number, curLen: number, port: number, nowMs: bigint): number;
  reserve(rule: number, cur: number, curLen: number, need: bigint, needIfVoid: bigint, heldWindow: bigint, nowMs: bigint): number;
  release(rule: number, cur: number, curLen: number, lease: bigint, window: bigint, nowMs: bigint): number;
  strike(segment: number, cur: number, curLen: number, nowMs: bigint): number;
  quarantineEnd(cur: number, curLen: number): bigint;
  recordAt(): number;
  recordSize(): number;
  lease(): bigint;
  leaseWindow(): bigint;
  cidrContains(block: number, blockLen: number, addr: number, addrLen: number): number;
  scheduleAdmits(rule: number, ms: bigint): number;
  selectRule(source: number, sourceLen: number, peer: number, peerLen: number, port: number): number;
  reasonCount(): number;
  reasonText(i: number): number;
}

/** Path of the compiled entry; compiles it when a source (or the compiler) changed. */
export function stagesWasmPath(): string {
  const hash = createHash("sha256");
  hash.update(readFileSync(path.join(REPO, "node_modules", "assemblyscript", "package.json")));
  for (const dir of SOURCES) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts")).sort()) hash.update(f).update(readFileSync(path.join(dir, f)));
  }
  const wasm = path.join(OUT_DIR, `stages-${hash.digest("hex").slice(0, 12)}.wasm`);
  if (existsSync(wasm)) return wasm;
  mkdirSync(OUT_DIR, { recursive: true });
  // Test files build in parallel workers: each writes its own file, the rename is atomic.
  const tmp = `${wasm}.${process.pid}`;
  // cwd: a folder without asconfig.json, so that asc builds only this entry.
  execFileSync(path.join(REPO, "node_modules", ".bin", "asc"), ["stages.ts", "--runtime", "full", "-O3", "--binaryFile", tmp], {
    cwd: ENTRY_DIR, timeout: 240_000, stdio: "pipe",
  });
  renameSync(tmp, wasm);
  return wasm;
}

/** The stages module, with helpers to put bytes into its memory. */
export class Stages {
  readonly x: StageExports;

  private constructor(x: StageExports) {
    this.x = x;
  }

  static async load(): Promise<Stages> {
    const module = await WebAssembly.compile(readFileSync(stagesWasmPath()));
    const instance = await WebAssembly.instantiate(module, {
      env: {
        abort(_msg: number, _file: number, line: number, column: number): never {
          throw new Error(`the stages module aborted at ${line}:${column}`);
        },
      },
    });
    return new Stages(instance.exports as unknown as StageExports);
  }

  /** Copies bytes (or a string's UTF-8) into fresh module memory; returns the address. */
  put(data: Uint8Array | string): number {
    const b = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const p = this.x.bytes(Math.max(b.length, 1));
    new Uint8Array(this.x.memory.buffer, p, b.length).set(b);
    return p;
  }

  /** Parses a configuration (filter/CONFIG.md lines, without header and `end`); throws when invalid. */
  config(lines: string[]): void {
    const text = ["picoseg 1", ...lines, "end", ""].join("\n");
    if (this.x.loadConfig(this.put(text), new TextEncoder().encode(text).length) !== 1) {
      throw new Error(`invalid configuration:\n${text}`);
    }
  }

  /** The UTF-8 text at p, after its u32 length (as reasonText returns it). */
  text(p: number): string {
    const n = new DataView(this.x.memory.buffer).getUint32(p, true);
    return new TextDecoder().decode(new Uint8Array(this.x.memory.buffer, p + 4, n));
  }

  /** The record the last per-source update built. */
  record(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, this.x.recordAt(), this.x.recordSize()).slice();
  }
}
