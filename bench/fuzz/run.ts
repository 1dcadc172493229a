// The long fuzz run: the filter under random configurations, byte streams, read sizes, closes,
// handshakes, failing host calls and clock moves (testkit/fuzz/driver.ts, the same driver and
// invariants as the unit fuzz test, which runs 100,000 connections), for millions of connections.
// It asserts what the driver asserts (no trap, budgets, durations, schedules, audit, counters) and
// prints the figures bench/README.md quotes, including Wasm memory growth after warm-up.
//
//   npx tsx bench/fuzz/run.ts [--streams 10000000] [--seed N] [--progress 1000000]
import { Fuzzer } from "../../testkit/fuzz/driver.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name}: not a count: ${process.argv[i + 1]}`);
  return n;
}

const streams = arg("streams", 10_000_000);
const seed = arg("seed", 0x5e9c0de);
const progress = arg("progress", 1_000_000);

// Chunks of `progress` connections, each a fresh driver with its own seed: the driver keeps per-run
// bookkeeping, and a failure then names a chunk that reproduces alone.
const t0 = performance.now();
let total = 0;
let worstGrowth = 0;
const denials: Record<string, number> = {};
for (let chunk = 0; total < streams; chunk++) {
  const n = Math.min(progress, streams - total);
  const chunkSeed = (seed + chunk * 0x9e3779b1) >>> 0;
  const stats = await new Fuzzer({ seed: chunkSeed, streams: n, warmupEpisodes: 60 }).run();
  total += stats.connections;
  worstGrowth = Math.max(worstGrowth, stats.memoryAtEnd - stats.memoryAfterWarmup);
  for (const [k, v] of Object.entries(stats.denials)) denials[k] = (denials[k] ?? 0) + v;
  const s = (performance.now() - t0) / 1000;
  console.log(
    `chunk ${chunk} (seed ${chunkSeed}): ${stats.connections} connections, ${stats.dataCalls + stats.rawCalls} data calls, ` +
      `memory ${stats.memoryAfterWarmup} -> ${stats.memoryAtEnd} bytes; total ${total} in ${s.toFixed(0)} s`,
  );
}
console.log(JSON.stringify({ connections: total, seconds: Math.round((performance.now() - t0) / 1000), worstMemoryGrowthAfterWarmup: worstGrowth, denials }));
