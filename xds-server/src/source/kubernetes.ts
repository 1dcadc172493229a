// PicoSegment custom resources from the Kubernetes API (list, then watch), behind the same
// PolicySource interface as the directory. Each object is validated on its own, exactly like a
// policy file: an invalid update is refused and that object's last good version stays in force.
// No client library: two GET requests (list, watch) and a line-delimited JSON stream.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { stringify } from "yaml";
import { SegmentStore } from "./segment-store.js";
import type { FileValidator, PolicySource, PolicyState, Refusal } from "./types.js";

export interface KubernetesSourceOptions {
  /** e.g. https://10.96.0.1:443, or http://127.0.0.1:8001 behind `kubectl proxy`. */
  apiServer: string;
  /** Bearer token, read on every request (projected service-account tokens rotate). */
  token?: () => string | undefined;
  /** CA bundle of the API server's certificate. */
  ca?: Buffer;
  /** Only this namespace; all namespaces by default. */
  namespace?: string;
  validateFile: FileValidator;
  /** First delay after a failed list or watch; doubles up to 30 s. */
  retryMs?: number;
  now?: () => number;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The API server, token and CA a pod reaches its cluster with. */
export function inClusterOptions(): Pick<KubernetesSourceOptions, "apiServer" | "token" | "ca"> {
  const host = process.env["KUBERNETES_SERVICE_HOST"];
  const port = process.env["KUBERNETES_SERVICE_PORT"] ?? "443";
  if (!host) throw new Error("not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)");
  return {
    apiServer: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    token: () => readFileSync(`${SA_DIR}/token`, "utf8").trim(),
    ca: readFileSync(`${SA_DIR}/ca.crt`),
  };
}

interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: unknown; annotations?: unknown };
  spec?: unknown;
}

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject & { code?: number; message?: string };
}

class Gone extends Error {}

export class KubernetesSource implements PolicySource {
  readonly description: string;
  /**
   * By `namespace/name`; an object's segments change when this server sees its new version (the
   * API keeps no usable mtime).
   */
  private readonly objects: SegmentStore;
  private resourceVersion = "";
  private closed = false;
  private request: http.ClientRequest | undefined;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly now: () => number;
  /**
   * Deletions leave no trace in the API, so the floor is when this source started (every
   * proxy's generation moves once after a restart) or last saw a deletion.
   */
  private floor: number;

  constructor(private readonly opts: KubernetesSourceOptions) {
    this.now = opts.now ?? Date.now;
    this.objects = new SegmentStore(opts.validateFile, this.now);
    this.floor = this.now();
    this.description = `kubernetes:${opts.apiServer}${this.collectionPath()}`;
  }

  async start(): Promise<PolicyState> {
    await this.list();
    this.loop = this.watchLoop();
    return this.objects.current()!;
  }

  current(): PolicyState | undefined {
    return this.objects.current();
  }

  onChange(listener: (state: PolicyState, newRefusals: readonly Refusal[]) => void): () => void {
    return this.objects.onChange(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.request?.destroy();
    this.wakeUp?.();
    await this.loop;
  }

  private collectionPath(): string {
    const ns = this.opts.namespace ? `/namespaces/${encodeURIComponent(this.opts.namespace)}` : "";
    return `/apis/picoseg.io/v1alpha1${ns}/picosegments`;
  }

  /** Replaces every object with the API server's list (objects gone from it are dropped). */
  private async list(): Promise<void> {
    const body = await this.getJson(this.collectionPath());
    const list = body as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
    const fresh: Refusal[] = [];
    const seen = new Set<string>();
    for (const item of list.items ?? []) {
      const key = keyOf(item);
      if (!key) continue;
      seen.add(key);
      this.upsert(key, item, fresh);
    }
    for (const key of this.objects.keys()) {
      if (!seen.has(key)) {
        this.objects.delete(key);
        this.floor = Math.max(this.floor, this.now());
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
    this.objects.publish(this.floor, fresh);
  }

  private async watchLoop(): Promise<void> {
    let delay = this.opts.retryMs ?? 1000;
    while (!this.closed) {
      try {
        await this.watchOnce();
        delay = this.opts.retryMs ?? 1000; // a watch that ends normally (server timeout) is renewed at once
      } catch (err) {
        if (this.closed) return;
        if (!(err instanceof Gone)) {
          console.error(`picoseg: kubernetes watch failed (${(err as Error).message}); relisting in ${delay} ms`);
          await this.pause(delay);
          delay = Math.min(delay * 2, 30_000);
        }
        try {
          await this.list(); // our resourceVersion is too old, or the stream broke: start over
        } catch (listErr) {
          console.error(`picoseg: kubernetes list failed (${(listErr as Error).message}); last state stays in force`);
        }
      }
    }
  }

  /** Waits `ms`, or less if the source is closed meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private watchOnce(): Promise<void> {
    const query = `?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(this.resourceVersion)}`;
    return new Promise<void>((resolve, reject) => {
      const req = this.get(this.collectionPath() + query, (res) => {
        if (res.statusCode === 410) return reject(new Gone("410 Gone"));
        if (res.statusCode !== 200) return reject(new Error(`watch: HTTP ${res.statusCode}`));
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            try {
              this.onEvent(JSON.parse(line) as WatchEvent);
            } catch (err) {
              req.destroy();
              return reject(err);
            }
          }
        });
        res.on("end", resolve);
        res.on("error", reject);
      });
      req.on("error", reject);
    });
  }

  private onEvent(ev: WatchEvent): void {
    if (ev.type === "ERROR") {
      if (ev.object.code === 410) throw new Gone(ev.object.message ?? "410 Gone");
      throw new Error(`watch error: ${ev.object.message ?? JSON.stringify(ev.object)}`);
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (ev.type === "BOOKMARK") return;
    const key = keyOf(ev.object);
    if (!key) return;
    const fresh: Refusal[] = [];
    if (ev.type === "DELETED") {
      if (!this.objects.delete(key)) return;
      this.floor = Math.max(this.floor, this.now());
    } else if (!this.upsert(key, ev.object, fresh)) {
      return; // only server-side fields changed
    }
    this.objects.publish(this.floor, fresh);
  }

  /** Validates an object that changed; true when it did. A refused update keeps the last good segments. */
  private upsert(key: string, obj: KubeObject, fresh: Refusal[]): boolean {
    // Only what the operator wrote: resourceVersion, managedFields, status… must not count as edits.
    const { apiVersion, kind, spec } = obj;
    const md = obj.metadata ?? {};
    const text = stringify({
      apiVersion,
      kind,
      metadata: {
        name: md.name,
        namespace: md.namespace,
        ...(md.labels ? { labels: md.labels } : {}),
        ...(md.annotations ? { annotations: md.annotations } : {}),
      },
      spec,
    });
    return this.objects.update(key, `picosegments/${key}`, text, fresh);
  }

  private get(path: string, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const url = new URL(path, this.opts.apiServer);
    const token = this.opts.token?.();
    const headers: Record<string, string> = { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const req =
      url.protocol === "https:"
        ? https.get(url, { headers, ...(this.opts.ca ? { ca: this.opts.ca } : {}) }, onResponse)
        : http.get(url, { headers }, onResponse);
    this.request = req;
    return req;
  }

  private getJson(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = this.get(path, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(err);
          }
        });
        res.on("error", reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: timeout`)));
      req.on("error", reject);
    });
  }
}

function keyOf(obj: KubeObject): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  return `${obj.metadata?.namespace ?? "default"}/${name}`;
}
