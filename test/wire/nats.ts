// A real NATS server (scripts/install-nats.sh builds the pinned one into the cache) on a free
// loopback port, for NATS's server-first bytes.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freeLoopbackPort } from "../../xds-server/src/util/ports.js";
import type { Upstream } from "./brokers.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function startNatsServer(): Promise<Upstream> {
  const { stdout } = await promisify(execFile)("bash", [join(repo, "scripts", "install-nats.sh")], { cwd: repo, timeout: 600_000 });
  const bin = stdout.trim();
  const port = await freeLoopbackPort();
  const proc: ChildProcess = spawn(bin, ["-a", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 10_000);
    proc.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
      if (log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}: ${log}`));
    });
  });
  return {
    host: "127.0.0.1",
    port,
    close: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    },
  };
}
