// The xDS server under benchmark, alone in its process so that its CPU and memory are its own.
// Driven over IPC by run.ts: it reports its addresses, then answers "sample" (and "memory",
// after a full GC) with CPU time, memory and the ACK and push counts.
import { startXdsServer } from "../../xds-server/src/server/server.js";

export interface ServerSample {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  acks: number;
  pushes: number;
}

export type ServerMessage = { kind: "ready"; xdsAddress: string; httpUrl: string } | { kind: "sample"; sample: ServerSample };

const dir = process.argv[2];
if (!dir || !process.send) throw new Error("usage: forked by bench/xds/run.ts with the policy directory");

const server = await startXdsServer({
  policies: dir,
  xdsPort: 0,
  httpPort: 0,
  log: () => {},
  debounceMs: Number(process.argv[3] ?? "150"),
  // Every simulated client connects from 127.0.0.1: the per-address bound (claims.ts) would
  // refuse all but the first 256 of them, where N real Envoys each have their own address.
  maxStreamsPerPeer: Number.MAX_SAFE_INTEGER,
});

async function counter(name: string): Promise<number> {
  const metrics = await server.metrics.registry.getSingleMetric(name)?.get();
  return (metrics?.values ?? []).reduce((n, v) => n + v.value, 0);
}

process.on("message", (m: unknown) => {
  if (m === "sample" || m === "memory") {
    void (async () => {
      // A full GC only when memory is what is asked: it would inflate the CPU being measured.
      if (m === "memory" && typeof global.gc === "function") global.gc();
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      const sample: ServerSample = {
        cpuMicros: cpu.user + cpu.system,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        acks: await counter("picoseg_xds_acks_total"),
        pushes: await counter("picoseg_xds_pushes_total"),
      };
      process.send!({ kind: "sample", sample } satisfies ServerMessage);
    })();
  } else if (m === "stop") {
    void server.close().then(() => process.exit(0));
  }
});
process.send({ kind: "ready", xdsAddress: server.xdsAddress, httpUrl: server.httpUrl } satisfies ServerMessage);
