// A real `picoseg serve --kubeconfig …` process (the CLI as a pod would run it, with a kubeconfig
// instead of the in-cluster service account), and a loopback TCP relay that plays the Service in
// front of the replicas: it forwards Envoy's xDS connection to one replica and can switch to
// another, cutting the current connection as a replica going away does.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { join } from "node:path";
import { repoRoot } from "../../xds-server/src/util/index.js";
import type { StatusReport } from "../../api/status.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { waitFor } from "../../xds-server/src/util/wait.js";
import { freePorts } from "../envoy/ports.js";
import { reap } from "./reaper.js";

export class ServeProcess {
  private output = "";
  private constructor(
    readonly child: ChildProcess,
    readonly id: string,
    readonly xdsPort: number,
    readonly httpUrl: string,
  ) {
    child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
  }

  /** Starts the server and resolves once /readyz answers (the first list is in). */
  static async start(kubeconfig: string, id: string, leaseDurationSeconds = 2): Promise<ServeProcess> {
    const [xdsPort, httpPort] = (await freePorts(2)) as [number, number];
    const child = reap(spawn(
      process.execPath,
      [
        join(repoRoot(), "bin", "picoseg.js"), "serve",
        "--kubeconfig", kubeconfig,
        "--xds-port", String(xdsPort), "--http-port", String(httpPort),
        "--replica-id", id, "--lease-namespace", "picoseg-system", "--lease-duration", String(leaseDurationSeconds),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    ));
    const p = new ServeProcess(child, id, xdsPort, `http://127.0.0.1:${httpPort}`);
    try {
      await waitFor(
        `picoseg serve ${id} /readyz`,
        async () => {
          if (child.exitCode !== null) throw new Error(`picoseg serve ${id} exited with ${child.exitCode}:\n${p.output.slice(-2000)}`);
          const r = await fetch(`${p.httpUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
          return r.status === 200 ? true : undefined;
        },
        20_000,
        100,
      );
    } catch (err) {
      await stopProcess(child);
      throw err;
    }
    return p;
  }

  log(): string {
    return this.output;
  }

  async status(): Promise<StatusReport> {
    const r = await fetch(`${this.httpUrl}/status`, { signal: AbortSignal.timeout(3000) });
    return (await r.json()) as StatusReport;
  }

  /** SIGKILL: the replica vanishes without releasing anything (a node failure). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGKILL");
    await gone;
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 3000);
  }
}

/** A TCP relay on 127.0.0.1 to one target port at a time. */
export class Relay {
  private current: number;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    target: number,
  ) {
    this.current = target;
  }

  /** The port new connections go to. */
  get target(): number {
    return this.current;
  }

  static async start(target: number): Promise<Relay> {
    let relay: Relay | undefined;
    const server = net.createServer((client) => relay!.accept(client));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    relay = new Relay(server, (server.address() as net.AddressInfo).port, target);
    return relay;
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.current, "127.0.0.1");
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** New connections go to `target`; the current ones are cut. */
  switchTo(target: number): void {
    this.current = target;
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.switchTo(0);
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
