// Connection churn through the real Envoy and the real filter: N connections opened, sniffed,
// echoed and closed (`concurrency` at a time) on one listener whose rule carries every cheap
// factor, with Envoy's memory (its own stats: allocated, heap) sampled every tenth of the run.
// Flat figures mean no per-connection leak in Envoy or in the filter's VM (whose linear memory
// Envoy's heap holds). Prints a table; asserts that every connection was echoed.
//
//   npx tsx bench/churn/run.ts [--connections 1000000] [--concurrency 32]
import { FilterEnv, TcpClient, compileSegments, segment } from "../../testkit/envoy/index.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name}: not a count: ${process.argv[i + 1]}`);
  return n;
}

const total = arg("connections", 1_000_000);
const concurrency = arg("concurrency", 32);

const env = await FilterEnv.start([
  {
    name: "churn",
    config: (p) =>
      compileSegments([
        segment("churn", {
          rules: [
            {
              name: "loopback",
              from: { ipBlocks: ["127.0.0.0/8"], notIpBlocks: ["127.0.0.66/32"] },
              ports: [p["churn"]!],
              protocols: ["unknown", "redis"],
              limits: { maxBytesIn: "1Mi", maxBytesOut: "1Mi", maxMessageBytes: "64Ki", maxDurationSeconds: 3600 },
            },
          ],
        }),
      ]),
  },
]);

const memory = async (): Promise<{ allocated: number; heap: number }> => {
  const s = await env.envoy.stats("^server\\.memory_(allocated|heap_size)$");
  return { allocated: s.get("server.memory_allocated") ?? 0, heap: s.get("server.memory_heap_size") ?? 0 };
};

let done = 0;
let failed = 0;
const t0 = performance.now();
const rows: string[] = [];
const sample = async (): Promise<void> => {
  const m = await memory();
  const s = (performance.now() - t0) / 1000;
  rows.push(`${String(done).padStart(9)}  ${(m.allocated / 2 ** 20).toFixed(1).padStart(8)} MiB  ${(m.heap / 2 ** 20).toFixed(1).padStart(8)} MiB  ${(done / Math.max(s, 0.001)).toFixed(0).padStart(6)}/s`);
  console.log(rows.at(-1));
};

console.log("connections  allocated      heap     rate");
await sample();
let next = 0;
const tenth = Math.max(1, Math.floor(total / 10));
let nextSample = tenth;
const worker = async (): Promise<void> => {
  while (next < total) {
    next++;
    try {
      const c = await TcpClient.connect(env.port("churn"));
      await c.write("ping\n");
      await c.waitForBytes(5, 5000);
      c.destroy();
    } catch {
      failed++;
    }
    done++;
    if (done >= nextSample) {
      nextSample += tenth;
      await sample();
    }
  }
};
await Promise.all(Array.from({ length: concurrency }, worker));
await sample();
const counters = await env.envoy.stats("picoseg");
console.log(JSON.stringify({ connections: done, failed, seconds: Math.round((performance.now() - t0) / 1000), allowed: counters.get("wasmcustom.picoseg.allowed") ?? 0 }));
await env.stop();
if (failed > 0) process.exitCode = 1;
