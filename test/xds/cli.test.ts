// `picoseg serve` and `picoseg status` as an operator runs them.
import { spawn, type ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { DeltaEnvoy, deltaConfigs, eventually } from "./fake-envoy.js";
import { segment } from "./server-fixture.js";

const run = promisify(execFile);
const cli = ["--import", "tsx", path.join(import.meta.dirname, "run-cli.ts")];

let serve: ChildProcess | undefined;
let dir = "";
const clients: DeltaEnvoy[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  if (serve && serve.exitCode === null) serve.kill("SIGKILL");
  serve = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("picoseg serve and picoseg status", () => {
  it("serve logs its addresses; status tables the connected proxy; SIGTERM stops it cleanly", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-cli-"));
    await writeFile(path.join(dir, "db.yaml"), segment("db", "db", 5432));
    await writeFile(path.join(dir, "bad.yaml"), segment("bad", "bad", 1).replace("ports:", "portz:"));
    serve = spawn(process.execPath, [...cli, "serve", "--policies", dir, "--xds-port", "0", "--http-port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    serve.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    serve.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(() => /HTTP on http:\/\/127\.0\.0\.1:\d+/.test(out), 20_000, "serve to start");
    const xds = /xDS on (127\.0\.0\.1:\d+)/.exec(out)![1]!;
    const http = /HTTP on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    expect(out).toMatch(/refused .*bad\.yaml:\d+: /);

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

    const exited = new Promise<number | null>((r) => serve!.once("exit", (code) => r(code)));
    serve.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 40_000);

  it("serve --remote-wasm points proxies at the module by the advertised URL and the named cluster", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-cli-"));
    await writeFile(path.join(dir, "db.yaml"), segment("db", "db", 5432));
    await writeFile(path.join(dir, "m.wasm"), "\0asm-bytes");
    serve = spawn(
      process.execPath,
      [...cli, "serve", "--policies", dir, "--xds-port", "0", "--http-port", "0", "--listen", "127.0.0.1",
        "--wasm", path.join(dir, "m.wasm"), "--remote-wasm", "--wasm-url", "http://picoseg-xds.example:18080/"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    serve.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    serve.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(() => /xDS on (127\.0\.0\.1:\d+)/.test(out), 20_000, "serve to start");
    const e = new DeltaEnvoy(/xDS on (127\.0\.0\.1:\d+)/.exec(out)![1]!, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    clients.push(e);
    e.subscribe(["picoseg"]);
    const [cfg] = deltaConfigs(await e.inbox.next());
    expect(cfg!.module.remote).toMatchObject({ uri: "http://picoseg-xds.example:18080/filter/picoseg.wasm", cluster: "picoseg-http" });
    expect(cfg!.module.remote!.sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 40_000);

  it("status says which server it could not reach", async () => {
    await expect(run(process.execPath, [...cli, "status", "--server", "http://127.0.0.1:9"])).rejects.toMatchObject({
      stderr: expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1:9\/status/),
    });
  }, 20_000);
});
