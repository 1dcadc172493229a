// Policy validation in a worker thread, one file at a time, so that loading a large policy never
// blocks the event loop that answers health checks and proxies. Falls back to validating in
// this thread when no worker can be started (the result is the same, only slower to others).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { validatePolicyText } from "./load.js";
import type { LoadedSegment } from "./types.js";
import type { PolicyError } from "../../../api/status.js";
import type { ValidateRequest } from "./validate-worker.js";

export interface Validated {
  segments: LoadedSegment[];
  errors: PolicyError[];
}

interface Reply {
  id: number;
  json?: string;
  failure?: string;
}

export class ValidatorPool {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: Validated) => void; reject: (e: Error) => void }>();
  private broken = false;

  validate(file: string, text: string): Promise<Validated> {
    const w = this.ensureWorker();
    if (!w) return Promise.resolve(validatePolicyText(text, file));
    const id = this.nextId++;
    return new Promise<Validated>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, file, text } satisfies ValidateRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private ensureWorker(): Worker | undefined {
    if (this.worker || this.broken) return this.worker;
    const script = workerScript();
    if (!script) {
      this.broken = true;
      return undefined;
    }
    try {
      const w = new Worker(script);
      w.unref();
      w.on("message", (m: Reply) => {
        const p = this.waiting.get(m.id);
        if (!p) return;
        this.waiting.delete(m.id);
        if (m.json !== undefined) p.resolve(JSON.parse(m.json) as Validated);
        else p.reject(new Error(m.failure ?? "validation failed"));
      });
      w.on("error", (err) => this.fail(err));
      w.on("exit", () => this.fail(new Error("the validation worker exited")));
      this.worker = w;
    } catch {
      this.broken = true;
    }
    return this.worker;
  }

  private fail(err: Error): void {
    this.broken = true; // validate here from now on rather than restart a failing worker
    this.worker = undefined;
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }
}

/**
 * The worker is always the compiled JavaScript: next to this module in dist/, or, when this
 * module runs from its TypeScript source (tsx, vitest: Node 20 workers cannot load TypeScript),
 * the copy `npm run build:ts` wrote to dist/ (npm ci and npm test build it first).
 */
function workerScript(): URL | undefined {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return new URL("./validate-worker.js", import.meta.url);
  const built = here.replace(/\/xds-server\/src\/policy\/validator-pool\.ts$/, "/dist/xds-server/src/policy/validate-worker.js");
  return built !== here && existsSync(built) ? new URL(`file://${built}`) : undefined;
}
