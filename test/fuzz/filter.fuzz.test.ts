// Fuzz: random configurations, byte streams, read sizes, closes, TLS handshakes,
// failing host calls and clock moves through the host emulator (testkit/fuzz/driver.ts).
// The filter must never trap and must keep its invariants: byte budgets, durations
// and schedules that every rule shares hold exactly; audit never closes; a rejected
// configuration denies with no-config and an accepted one never does; a callback that
// closes returns StopIteration; each connection is counted once at connect (or later,
// when admission waits for the TLS handshake); counters only grow; one decision line
// per counted decision. Its Wasm memory must stop growing after warm-up.
//
// Reproduce a failure: PICOSEG_FUZZ_SEED=<seed printed below> npx vitest run --project unit test/fuzz
// Explore: PICOSEG_FUZZ_SEED=random (a new seed, printed) and PICOSEG_FUZZ_STREAMS=<n>;
// PICOSEG_FUZZ_TRACE_MEMORY=1 prints the action (and the host calls it made) whenever memory grows.
import { describe, expect, it } from "vitest";
import { FilterHost } from "../../testkit/filter-host/index.js";
import { Fuzzer } from "../../testkit/fuzz/driver.js";

const DEFAULT_SEED = 0x5e9c0de;

function seedFromEnv(): number {
  const s = process.env.PICOSEG_FUZZ_SEED;
  if (s === undefined || s === "") return DEFAULT_SEED;
  if (s === "random") return (Math.random() * 2 ** 32) >>> 0;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new Error(`PICOSEG_FUZZ_SEED must be an integer in [0, 2^32) or "random", got ${s}`);
  return n;
}

const SEED = seedFromEnv();
const STREAMS = Number(process.env.PICOSEG_FUZZ_STREAMS ?? 100_000);
const WARMUP_EPISODES = 60;
/**
 * Growth allowed after warm-up: 1 MiB (16 Wasm pages). Wasm memory is a high-water
 * mark (whole 64 KiB pages, never given back). The warm-up feeds the filter its
 * largest inputs first (Fuzzer.warmUpExtremes), but the filter builds each decision
 * line by repeated string concatenation with JSON escaping (decisionlog.ts
 * jsonString): a line carrying 1 KiB texts of control characters churns through
 * megabytes of growing intermediate strings, and whether the heap then needs more
 * pages depends on the order of such lines, not only on their size. With the default
 * seed one late tick that denies three such connections takes 12 pages (768 KiB);
 * other seeds (e.g. 7, over 300,000 connections) take none. A leak of 11 bytes or
 * more per connection over the 100,000 connections still exceeds this bound; the
 * second test below allows no growth at all.
 */
const MEMORY_SLACK = 1 << 20;
/**
 * The run takes 8–10 s alone on the idle 2-core machine (about 20 s under a load
 * average of 7); this guard leaves room for the rest of the unit suite running
 * alongside on the same two cores.
 */
const FUZZ_TIMEOUT_MS = 150_000;

describe("fuzz: the filter under random configurations and streams", () => {
  it(`runs ${STREAMS.toLocaleString("en")} random connections (byte streams both ways) without a trap, keeping every invariant, in memory that stops growing`, async () => {
    console.log(`picoseg fuzz: seed ${SEED} (PICOSEG_FUZZ_SEED=${SEED} reproduces), ${STREAMS} streams`);
    const t0 = performance.now();
    const stats = await new Fuzzer({ seed: SEED, streams: STREAMS, warmupEpisodes: WARMUP_EPISODES }).run();
    const ms = Math.round(performance.now() - t0);
    console.log(`picoseg fuzz: ${JSON.stringify({ ...stats, ms })}`);
    expect(stats.connections).toBeGreaterThanOrEqual(STREAMS);
    expect(stats.episodes).toBeGreaterThan(WARMUP_EPISODES);
    // The fuzz must reach the interesting paths, not only no-config denials.
    expect(stats.configs.valid).toBeGreaterThan(stats.episodes / 3);
    expect(stats.rejected).toBeGreaterThan(0);
    expect(stats.budgetChecks).toBeGreaterThan(1000);
    expect(stats.auditChecks).toBeGreaterThan(1000);
    expect(stats.durationChecks).toBeGreaterThan(100);
    expect(stats.scheduleChecks).toBeGreaterThan(100);
    expect(stats.memoryAtEnd - stats.memoryAfterWarmup).toBeLessThanOrEqual(MEMORY_SLACK);
  }, FUZZ_TIMEOUT_MS);

  it("memory is flat across rounds of 300 connections opened, driven and closed under every factor", async () => {
    const cfg = [
      "picoseg 1",
      "tz 0 60 1774746000 120 1792890000 60",
      "segment ns/db enforce",
      "quarantine 3 600 900",
      "rule api",
      "principal spiffe://cluster.local/ns/payments/sa/*",
      "ip 10.0.0.0/8",
      "notip 10.9.0.0/16",
      "port 5432 5432",
      "protocol postgres",
      "protocol unknown",
      "schedule 0",
      "window 0 10080",
      "maxBytesIn 4000",
      "maxBytesOut 4000",
      "maxMessageBytes 300",
      "framing lengthPrefixed 1 4 big -4",
      "maxDurationSeconds 3600",
      "perSource 3600 100000000 100000 4",
      "end",
      "",
    ].join("\n");
    const host = await FilterHost.start({ config: cfg, logLevel: "info" });
    // Postgres-style messages (type byte, int32 length counting itself), sniffed as `unknown`.
    const msg = Uint8Array.of(0x51, 0, 0, 0, 9, 1, 2, 3, 4, 5);
    const round = (r: number): void => {
      const conns = host.connectMany(300, (i) => ({
        source: `10.${1 + (i % 5)}.${r % 200}.${i % 250}:4000`,
        port: 5432,
        principal: "spiffe://cluster.local/ns/payments/sa/api",
      }));
      for (const c of conns) {
        c.fromClient(msg);
        c.fromClient(msg);
        c.fromServer("S");
        if (c.id % 7 === 0) c.fromClient(new Uint8Array(5000)); // over budget: closed by the filter
      }
      for (const c of conns) c.closeFromClient();
      host.advance(1000);
      host.clearLogs();
    };
    for (let r = 0; r < 5; r++) round(r);
    const warm = host.memoryBytes();
    for (let r = 5; r < 40; r++) round(r);
    expect(host.counter("picoseg.denied.bytes-in")).toBeGreaterThan(0);
    expect(host.liveConnections).toBe(0);
    expect(host.memoryBytes()).toBe(warm);
  });
});
