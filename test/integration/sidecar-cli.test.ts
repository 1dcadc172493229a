// `picoseg sidecar` for real (not --print): it runs the installed Envoy with the sidecar bootstrap,
// says where the admin went, sends the Istio node metadata, fails closed while no filter config has
// arrived, and forwards SIGTERM to Envoy, exiting with Envoy's status.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { TcpClient, Upstream, freePorts, sleep, waitFor } from "../../testkit/envoy/harness.js";

describe("picoseg sidecar (running Envoy)", () => {
  let cli: ChildProcess;
  let stderr = "";
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let echo: Upstream;
  let listenPort: number;
  let admin: string;

  beforeAll(async () => {
    echo = await Upstream.start();
    const [lp, xdsPort] = (await freePorts(2)) as [number, number]; // nothing serves xdsPort
    listenPort = lp;
    cli = spawn(process.execPath, [
      join(repoRoot(), "bin", "picoseg.js"), "sidecar",
      "--xds", `127.0.0.1:${xdsPort}`, "--listen", `127.0.0.1:${listenPort}`, "--upstream", `127.0.0.1:${echo.port}`,
      "--namespace", "payments", "--labels", "app=payments-db,version=v1", "--annotations", "picoseg.io/max-bytes-in=1Mi",
      "--service-account", "payments-db", "--node-id", "sidecar~127.0.0.1~payments-db-0.payments~payments.svc.cluster.local",
      "--initial-fetch-timeout", "1", "--concurrency", "1",
    ], { stdio: ["ignore", "pipe", "pipe"], detached: true }); // own process group: afterAll can end CLI and Envoy together
    cli.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    cli.stdout?.on("data", (d: Buffer) => (stderr += d.toString()));
    cli.once("exit", (code, signal) => (exit = { code, signal }));
    admin = await waitFor("the sidecar's admin address on stderr", () => {
      if (exit) throw new Error(`picoseg sidecar exited: ${JSON.stringify(exit)}\n${stderr.slice(-2000)}`);
      return /picoseg sidecar: Envoy admin at (http:\/\/[^\s/]+)\//.exec(stderr)?.[1];
    }, 20_000);
  });

  afterAll(async () => {
    if (cli?.pid !== undefined && exit === undefined) {
      try {
        process.kill(-cli.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await echo?.stop();
  });

  it("sends the workload's Istio node metadata", async () => {
    const info = (await (await fetch(`${admin}/server_info`, { signal: AbortSignal.timeout(3000) })).json()) as {
      node: { id: string; cluster: string; metadata: Record<string, unknown> };
    };
    expect(info.node.id).toBe("sidecar~127.0.0.1~payments-db-0.payments~payments.svc.cluster.local");
    expect(info.node.cluster).toBe("payments-db.payments");
    expect(info.node.metadata).toEqual({
      NAMESPACE: "payments",
      LABELS: { app: "payments-db", version: "v1" },
      ANNOTATIONS: { "picoseg.io/max-bytes-in": "1Mi" },
      SERVICE_ACCOUNT: "payments-db",
      WORKLOAD_NAME: "payments-db",
      // The admin address Envoy really listens on, announced so that the server can read the
      // filter's decision counters (--admin defaults to 127.0.0.1:0: the CLI picks the port first).
      PICOSEG_ADMIN: admin.replace(/^http:\/\//, ""),
    });
  });

  it("fails closed while its picoseg config has not arrived", async () => {
    await waitFor("the sidecar to be LIVE", async () => {
      const r = await fetch(`${admin}/ready`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200 ? true : undefined;
    }, 10_000, 100);
    const c = await TcpClient.connect(listenPort);
    await c.write("hello\n");
    await c.waitForClose(3000);
    expect(c.received().length).toBe(0);
    expect(echo.totalReceived()).toBe(0);
  });

  it("passes SIGTERM to Envoy and exits with Envoy's status", async () => {
    cli.kill("SIGTERM");
    await waitFor("picoseg sidecar to exit", () => exit, 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    await sleep(100);
    await expect(fetch(`${admin}/ready`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
  });
});
