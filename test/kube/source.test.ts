// PicoSegment custom resources from a (fake, but wire-exact) Kubernetes API server: list, then
// a watch stream of ADDED / MODIFIED / DELETED / BOOKMARK / ERROR events. Fast and exact about
// the protocol; test/integration/k8s-*.test.ts run the same source against a real kube-apiserver.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { validatePolicyText } from "../../xds-server/src/policy/index.js";
import { loadKubeConfig } from "../../xds-server/src/kube/client.js";
import { KubernetesSource } from "../../xds-server/src/kube/source.js";
import type { PolicyState } from "../../xds-server/src/source/types.js";
import { startXdsServer } from "../../xds-server/src/server/server.js";
import { DeltaEnvoy, deltaConfigs, eventually } from "../../testkit/xds/fake-envoy.js";

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string; uid?: string };
  spec: unknown;
}
const cr = (name: string, port: number | string, rv: number, ns = "shop"): Obj => ({
  apiVersion: "picoseg.io/v1alpha1",
  kind: "PicoSegment",
  metadata: { name, namespace: ns, resourceVersion: String(rv), uid: `uid-${name}` },
  spec: { selector: { matchLabels: { app: name } }, rules: [{ name: "r", ports: [port] }] },
});

class FakeApiServer {
  items: Obj[] = [];
  rv = 100;
  lists = 0;
  watchQueries: URLSearchParams[] = [];
  auth: string[] = [];
  private watches: http.ServerResponse[] = [];
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    this.auth.push(req.headers.authorization ?? "");
    if (url.pathname !== "/apis/picoseg.io/v1alpha1/picosegments") {
      res.writeHead(404).end();
      return;
    }
    if (url.searchParams.get("watch") === "true") {
      this.watchQueries.push(url.searchParams);
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders(); // the real API server answers a watch at once, before any event
      this.watches.push(res);
      return;
    }
    this.lists++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "PicoSegmentList", metadata: { resourceVersion: String(this.rv) }, items: this.items }));
  });
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
  }
  /** Sends an event on every open watch; like the real API server, an ERROR ends the watch. */
  event(type: string, object: unknown): void {
    for (const w of this.watches) w.write(`${JSON.stringify({ type, object })}\n`);
    if (type === "ERROR") this.endWatches();
  }
  endWatches(): void {
    for (const w of this.watches.splice(0)) w.end();
  }
  openWatches(): number {
    return this.watches.filter((w) => !w.writableEnded).length;
  }
  async close(): Promise<void> {
    this.endWatches();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let api: FakeApiServer | undefined;
let source: KubernetesSource | undefined;
afterEach(async () => {
  await source?.close();
  await api?.close();
  source = api = undefined;
});

const names = (s: PolicyState | undefined): string[] => (s?.segments ?? []).map((x) => `${x.segment.metadata.namespace}/${x.segment.metadata.name}`);

async function open(items: Obj[], start = true): Promise<{ api: FakeApiServer; source: KubernetesSource }> {
  api = new FakeApiServer();
  api.items = items;
  await api.listen();
  source = new KubernetesSource({
    kubeConfig: loadKubeConfig({ kind: "explicit", server: api.url, token: "t0ken" }),
    validateFile: (file, text) => validatePolicyText(text, file),
    retryMs: 50,
  });
  if (!start) return { api, source };
  await source.start();
  const a = api;
  await eventually(() => a.openWatches() === 1, 5000, "the watch");
  return { api, source };
}

describe("the Kubernetes PicoSegment source", () => {
  it("lists, then watches from the list's resourceVersion with bookmarks and the bearer token", async () => {
    const { api, source } = await open([cr("db", 5432, 1), cr("api", 8080, 2)]);
    expect(names(source.current())).toEqual(["shop/api", "shop/db"]);
    expect(api.watchQueries[0]!.get("resourceVersion")).toBe("100");
    expect(api.watchQueries[0]!.get("allowWatchBookmarks")).toBe("true");
    expect(api.auth.every((a) => a === "Bearer t0ken")).toBe(true);
  });

  it("follows ADDED, MODIFIED and DELETED; a change of server-side fields only is no change", async () => {
    const { api, source } = await open([cr("db", 5432, 1)]);
    let changes = 0;
    source.onChange(() => changes++);
    api.event("ADDED", cr("api", 8080, 101));
    await eventually(() => names(source.current()).includes("shop/api"), 5000, "added");
    api.event("MODIFIED", cr("db", 6543, 102));
    await eventually(() => JSON.stringify(source.current()!.segments).includes("6543"), 5000, "modified");
    api.event("MODIFIED", { ...cr("db", 6543, 103), status: { observed: 1 } });
    api.event("DELETED", cr("api", 8080, 104));
    await eventually(() => !names(source.current()).includes("shop/api"), 5000, "deleted");
    expect(changes).toBe(3);
  });

  it("refuses an invalid update with object:line: field: message and keeps the last good version", async () => {
    const { api, source } = await open([cr("db", 5432, 1)]);
    api.event("MODIFIED", cr("db", 99999, 101));
    await eventually(() => source.current()!.refusals.length > 0, 5000, "refusal");
    expect(source.current()!.refusals[0]!.text).toMatch(/^picosegments\/shop\/db:\d+: spec\.rules\[0\]\.ports\[0\]: /);
    expect(JSON.stringify(source.current()!.segments)).toContain("5432");
    api.event("MODIFIED", cr("db", 7000, 102));
    await eventually(() => source.current()!.refusals.length === 0, 5000, "fixed");
    expect(JSON.stringify(source.current()!.segments)).toContain("7000");
  });

  it("relists on 410 Gone and resumes watching from bookmarks after a watch ends", async () => {
    const { api, source } = await open([cr("db", 5432, 1)]);
    api.event("BOOKMARK", { metadata: { resourceVersion: "150" } });
    await new Promise((r) => setTimeout(r, 50));
    api.endWatches();
    await eventually(() => api.watchQueries.length === 2, 5000, "rewatch");
    expect(api.watchQueries[1]!.get("resourceVersion")).toBe("150");
    expect(api.lists).toBe(1);

    // Objects changed while our resourceVersion expired: the relist brings them.
    api.items = [cr("db", 5432, 1), cr("late", 9000, 160)];
    api.rv = 160;
    await eventually(() => api.openWatches() === 1, 5000, "watch open");
    api.event("ERROR", { kind: "Status", code: 410, message: "too old resource version" });
    await eventually(() => names(source.current()).includes("shop/late"), 5000, "relist");
    expect(api.lists).toBe(2);
  });
});

describe("the xDS server on the Kubernetes source", () => {
  it("reports an invalid resource of the first list as refused, like any later refusal", async () => {
    const { source } = await open([cr("db", 5432, 1), cr("bad", 99999, 2)], false);
    const logs: string[] = [];
    const server = await startXdsServer({ policies: source, xdsPort: 0, httpPort: 0, log: (l) => logs.push(l), wasmPath: "/x/picoseg.wasm" });
    try {
      expect(server.status().segments).toEqual(["shop/db"]);
      expect(server.status().recentRefusals.map((r) => r.text)).toEqual([expect.stringMatching(/^picosegments\/shop\/bad:\d+: spec\.rules\[0\]\.ports\[0\]: /)]);
      expect(logs.filter((l) => l.startsWith("picoseg: refused picosegments/shop/bad:"))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("serves a proxy from the custom resources and pushes a resource edit", async () => {
    const { api, source } = await open([cr("db", 5432, 1)], false);
    const server = await startXdsServer({ policies: source, xdsPort: 0, httpPort: 0, log: () => {}, wasmPath: "/x/picoseg.wasm" });
    const e = new DeltaEnvoy(server.xdsAddress, "ecds", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    try {
      e.subscribe(["picoseg"]);
      const r = await e.inbox.next();
      expect(deltaConfigs(r)[0]!.configuration).toContain("port 5432 5432");
      e.ack(r);
      await eventually(() => api.openWatches() === 1, 5000, "the watch");
      api.event("MODIFIED", cr("db", 6000, 101));
      expect(deltaConfigs(await e.inbox.next())[0]!.configuration).toContain("port 6000 6000");
      expect(server.status().policySource).toBe(`kubernetes:${api.url}/apis/picoseg.io/v1alpha1/picosegments`);
    } finally {
      e.close();
      await server.close(); // closes the source too
    }
  });
});
