// `picoseg serve` and `picoseg status` as an operator runs them.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DeltaEnvoy, deltaConfigs, eventually } from "../../testkit/xds/fake-envoy.js";
import { segment } from "../../testkit/xds/server-fixture.js";
import { PICOSEG_CLI, ServeCommand } from "../../testkit/cli/index.js";

const run = promisify(execFile);
const cli = PICOSEG_CLI;

let serve: ServeCommand | undefined;
let dir = "";
const clients: DeltaEnvoy[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await serve?.stop("SIGKILL");
  serve = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("picoseg serve and picoseg status", () => {
  it("serve logs its addresses; status tables the connected proxy; SIGTERM stops it cleanly", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-cli-"));
    await writeFile(path.join(dir, "db.yaml"), segment("db", "db", 5432));
    await writeFile(path.join(dir, "bad.yaml"), segment("bad", "bad", 1).replace("ports:", "portz:"));
    serve = await ServeCommand.start(["--policies", dir, "--xds-port", "0", "--http-port", "0", "--drain-seconds", "0"]);
    const { xds, http } = serve;
    expect(serve.output()).toMatch(/refused .*bad\.yaml:\d+: /);

    const e = new DeltaEnvoy(xds, "ecds", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    clients.push(e);
    e.subscribe(["picoseg"]);
    e.ack(await e.inbox.next());
    await eventually(async () => (await (await fetch(`${http}/status`)).text()).includes('"acked"'), 5000, "ACK");

    const { stdout } = await run(process.execPath, [...cli, "status", "--server", http]);
    const lines = stdout.split("\n");
    expect(lines[0]).toMatch(/ready · dir:.* revision 1 · 1 segment\(s\) · 1 proxy\(ies\)/);
    expect(lines[2]).toMatch(/^NODE\s+WORKLOAD\s+STREAM\s+SEGMENTS\s+RESOURCE\s+CURRENT\s+SENT\s+ACKED\s+STATE$/);
    expect(lines[3]).toMatch(/^db-1\s+shop \{app=db\}\s+ecds\/delta\s+shop\/db\s+picoseg\s+([0-9a-f]{8})\s+\1\s+\1\s+in sync$/);
    expect(stdout).toMatch(/refused policy documents .*\n\s+.*bad\.yaml:\d+: /);

    const json = JSON.parse((await run(process.execPath, [...cli, "status", "--server", http, "--json"])).stdout) as { proxies: unknown[] };
    expect(json.proxies).toHaveLength(1);
    const yaml = parse((await run(process.execPath, [...cli, "status", "--server", http, "-o", "yaml"])).stdout) as unknown;
    expect(yaml).toEqual(json);
    const wide = (await run(process.execPath, [...cli, "status", "--server", http, "-o", "wide"])).stdout;
    expect(wide).toMatch(/^db-1\s+.*\s+([0-9a-f]{16})\s+\1\s+\1\s+in sync$/m); // whole versions

    expect(await serve.stop("SIGTERM")).toBe(0);
  }, 40_000);

  it("serve --remote-wasm points proxies at the module by the advertised URL and the named cluster", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-cli-"));
    await writeFile(path.join(dir, "db.yaml"), segment("db", "db", 5432));
    await writeFile(path.join(dir, "m.wasm"), "\0asm-bytes");
    serve = await ServeCommand.start(["--policies", dir, "--xds-port", "0", "--http-port", "0", "--listen", "127.0.0.1",
      "--wasm", path.join(dir, "m.wasm"), "--remote-wasm", "--wasm-url", "http://picoseg-xds.example:18080/"]);
    const e = new DeltaEnvoy(serve.xds, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    clients.push(e);
    e.subscribe(["picoseg"]);
    const [cfg] = deltaConfigs(await e.inbox.next());
    expect(cfg!.module.remote).toMatchObject({ uri: "http://picoseg-xds.example:18080/filter/picoseg.wasm", cluster: "picoseg-http" });
    expect(cfg!.module.remote!.sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 40_000);

  it("SIGTERM drains: not ready at once, no new streams, live streams ended one by one over --drain-seconds, then exit 0", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-cli-"));
    await writeFile(path.join(dir, "db.yaml"), segment("db", "db", 5432));
    serve = await ServeCommand.start(["--policies", dir, "--xds-port", "0", "--http-port", "0", "--drain-seconds", "2"]);
    const { xds, http } = serve;
    const live = [1, 2, 3, 4].map((i) => new DeltaEnvoy(xds, "ecds", { id: `db-${i}`, namespace: "shop", labels: { app: "db" } }));
    clients.push(...live);
    for (const e of live) {
      e.subscribe(["picoseg"]);
      e.ack(await e.inbox.next());
    }
    const endedAt: number[] = [];
    const codes: Array<number | undefined> = [];
    const t0 = Date.now();
    for (const e of live) {
      void e.inbox.next(10_000).catch((err: { code?: number }) => {
        endedAt.push(Date.now() - t0);
        codes.push(err.code);
      });
    }
    const exited = serve.stop("SIGTERM");
    await eventually(async () => (await fetch(`${http}/readyz`).catch(() => undefined))?.status === 503, 1000, "readyz to say draining");
    expect(await (await fetch(`${http}/readyz`)).text()).toMatch(/draining/);
    const late = new DeltaEnvoy(xds, "ecds", { id: "db-late", namespace: "shop", labels: { app: "db" } });
    clients.push(late);
    late.subscribe(["picoseg"]);
    expect(await late.inbox.next(5000).then(() => "served", () => "refused")).toBe("refused");
    expect(await exited).toBe(0);
    expect(codes).toEqual([14, 14, 14, 14]); // UNAVAILABLE: go elsewhere
    endedAt.sort((a, b) => a - b);
    expect(endedAt[0]!).toBeGreaterThanOrEqual(300); // not dropped at once
    expect(endedAt[3]! - endedAt[0]!).toBeGreaterThanOrEqual(800); // spread, not a stampede
    expect(endedAt[3]!).toBeLessThan(4000);
    expect(serve.output()).toMatch(/draining 4 xDS streams over 2 s/);
  }, 40_000);

  it("status says which server it could not reach", async () => {
    await expect(run(process.execPath, [...cli, "status", "--server", "http://127.0.0.1:9"])).rejects.toMatchObject({
      stderr: expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1:9\/status/),
    });
  }, 20_000);
});
