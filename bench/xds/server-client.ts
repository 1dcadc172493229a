// The benchmark's side of bench/xds/server-process.ts: fork picoseg's xDS server on a policy
// directory, wait for it to be ready, and ask it for samples over the IPC channel. Shared by
// run.ts and compare.ts.
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { ServerMessage, ServerSample } from "./server-process.js";

export interface BenchServer {
  child: ChildProcess;
  xdsAddress: string;
  /** "memory" runs a full GC in the server first, so RSS is live memory plus the runtime's own. */
  sample(what: "sample" | "memory"): Promise<ServerSample>;
}

export async function forkBenchServer(dir: string, debounceMs: number): Promise<BenchServer> {
  const child = fork(path.join(import.meta.dirname, "server-process.ts"), [dir, String(debounceMs)], {
    // PICOSEG_BENCH_PROF=DIR writes a V8 CPU profile of the server process into DIR.
    execArgv: [
      "--import", "tsx", "--expose-gc",
      ...(process.env["PICOSEG_BENCH_PROF"] ? ["--cpu-prof", `--cpu-prof-dir=${process.env["PICOSEG_BENCH_PROF"]}`] : []),
    ],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const inbox: ServerMessage[] = [];
  let wake: (() => void) | undefined;
  child.on("message", (m) => {
    inbox.push(m as ServerMessage);
    wake?.();
  });
  child.on("exit", () => wake?.());
  const next = async (): Promise<ServerMessage> => {
    while (inbox.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error("picoseg's server exited");
      await new Promise<void>((r) => (wake = r));
    }
    return inbox.shift()!;
  };
  const ready = await next();
  if (ready.kind !== "ready") throw new Error("server did not start");
  return {
    child,
    xdsAddress: ready.xdsAddress,
    sample: async (what) => {
      child.send(what);
      const m = await next();
      if (m.kind !== "sample") throw new Error("unexpected message");
      return m.sample;
    },
  };
}
