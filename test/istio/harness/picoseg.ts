// The real `picoseg serve`, as a process of its own (so a test can kill it and start it again on
// the same ports), run as in a mesh: the module's bytes inside each filter config.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../../xds-server/src/envoy/index.js";
import { stopProcess } from "../../../xds-server/src/util/process.js";
import { waitFor } from "../../../xds-server/src/util/wait.js";
import type { ProxyStatus, StatusReport } from "../../../xds-server/src/xds/status.js";


export class PicosegServe {
  private child: ChildProcess | undefined;
  private logText = "";
  constructor(
    readonly policies: string,
    readonly xdsPort: number,
    readonly httpPort: number,
  ) {}

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Starts the server and waits for /readyz. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [
      "--import", "tsx", join(repoRoot(), "test/xds/run-cli.ts"),
      "serve", "--policies", this.policies,
      "--xds-port", String(this.xdsPort), "--http-port", String(this.httpPort),
      "--inline-wasm", // as istio-manifests/xds-server.yaml runs it
    ], { cwd: repoRoot(), stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    child.stdout?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    child.stderr?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    await waitFor("picoseg serve /readyz", async () => {
      if (child.exitCode !== null) throw new Error(`picoseg serve exited\n${this.logText.slice(-3000)}`);
      const r = await fetch(`${this.httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    }, 30_000, 100);
  }

  /** The proxies connected to it (its /status). */
  async proxies(): Promise<ProxyStatus[]> {
    const r = await fetch(`${this.httpUrl}/status`, { signal: AbortSignal.timeout(5000) });
    return ((await r.json()) as StatusReport).proxies;
  }

  log(): string {
    return this.logText;
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, 5000);
    this.child = undefined;
  }
}
