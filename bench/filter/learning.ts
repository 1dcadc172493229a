// Learning mode's price in the filter, through the host emulator: a new connection and a data
// callback with observation on against the same configuration with it off (their samples
// interleaved), and Wasm memory while 100,000 distinct sources come and go.
//
//   npx tsx bench/filter/learning.ts [--quick]
import os from "node:os";
import v8 from "node:v8";
import vm from "node:vm";
import { FilterHost, RELEASE_WASM, type Connection } from "../../testkit/filter-host/index.js";
import { ALL_FACTORS, ALLOW_ALL, callbackCosts, facts, pgMessage } from "./run.js";

const QUICK = process.argv.includes("--quick");
const BATCHES = QUICK ? 3 : 11;
const WARMUP = QUICK ? 1 : 3;
const PER_BATCH = 300;
const LIVE = 1000;
const SOURCES = 100_000;
const OBSERVE = "observe xds 5000 1024";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** The configuration with the `observe` line after its header (and generation). */
function observing(config: string): string {
  const lines = config.split("\n");
  const at = lines[1]?.startsWith("generation ") ? 2 : 1;
  lines.splice(at, 0, OBSERVE);
  return lines.join("\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`;

/** Median ns of host.connect() on each config, one connection on each in turn, LIVE connections open on each. */
async function setupInterleaved(configs: string[]): Promise<number[]> {
  const hosts: FilterHost[] = [];
  for (const config of configs) {
    const host = await FilterHost.start({ config, wasmPath: RELEASE_WASM, logLevel: "info", nodeId: "bench" });
    for (let i = 0; i < LIVE; i++) host.connect(facts(i));
    hosts.push(host);
  }
  const samples: number[][] = configs.map(() => []);
  let next = LIVE;
  for (let b = 0; b < WARMUP + BATCHES; b++) {
    gc();
    const opened: Connection[][] = hosts.map(() => []);
    for (let i = 0; i < PER_BATCH; i++) {
      const f = facts(next++);
      for (let h = 0; h < hosts.length; h++) {
        const t0 = process.hrtime.bigint();
        const c = hosts[h]!.connect(f);
        const t1 = process.hrtime.bigint();
        if (c.closed) throw new Error(`bench connection denied: ${c.closeReason}`);
        opened[h]!.push(c);
        if (b >= WARMUP) samples[h]!.push(Number(t1 - t0));
      }
    }
    for (let h = 0; h < hosts.length; h++) {
      for (const c of opened[h]!) c.closeFromClient();
      hosts[h]!.advance(500); // ticks: the observing host flushes and its reports are answered
      for (const call of [...hosts[h]!.grpcCalls]) hosts[h]!.answerGrpc(call.token, 0);
      hosts[h]!.clearLogs();
    }
  }
  return samples.map(median);
}

/** Wasm memory growth while SOURCES distinct sources open and close one connection each, reports flushed and answered. */
async function memoryAtSources(config: string): Promise<{ growth: number; afterFirst: number; reported: number; dropped: number; maxAggregates: number }> {
  const host = await FilterHost.start({ config, wasmPath: RELEASE_WASM, logLevel: "info", nodeId: "bench" });
  host.connect(facts(0)).closeFromClient();
  host.advance(6000);
  for (const call of [...host.grpcCalls]) host.answerGrpc(call.token, 0);
  const before = host.memoryBytes();
  let reported = 0;
  let dropped = 0;
  let maxAggregates = 0;
  let afterFirst = 0;
  for (let i = 0; i < SOURCES; i++) {
    const c = host.connect({ ...facts(i), source: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:40000` });
    c.fromClient(pgMessage(100));
    c.closeFromClient();
    if (i % 10_000 === 9_999) {
      host.advance(5000);
      for (const call of [...host.grpcCalls]) {
        const body = JSON.parse(Buffer.from(call.body).toString("utf8")) as { conns: Array<{ n: number }>; dropped: { conns: number } };
        reported += body.conns.reduce((a, x) => a + x.n, 0);
        dropped += body.dropped.conns;
        maxAggregates = Math.max(maxAggregates, body.conns.length);
        host.answerGrpc(call.token, 0);
      }
      host.clearLogs();
      if (i === 9_999) afterFirst = host.memoryBytes() - before;
    }
  }
  return { growth: host.memoryBytes() - before, afterFirst, reported, dropped, maxAggregates };
}

async function main(): Promise<void> {
  console.log(`picoseg learning-mode bench — ${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`${BATCHES} timed batches after ${WARMUP} warm-up; medians of per-sample times; observation: \`${OBSERVE}\``);
  console.log("");
  console.log(`(a) a new connection (host.connect) at ${LIVE.toLocaleString("en-US")} live, observation off and on, interleaved`);
  for (const [name, config] of [["allow-all", ALLOW_ALL], ["all factors", ALL_FACTORS]] as const) {
    const [off, on] = await setupInterleaved([config, observing(config)]);
    console.log(`  ${name.padEnd(12)} off ${us(off!).padStart(9)}   on ${us(on!).padStart(9)}   on / off ${(on! / off!).toFixed(3)}x`);
  }
  console.log("");
  console.log("(c) one data callback (one 100-byte message per read, 100 live connections), observation off and on, interleaved");
  const msg = pgMessage(100);
  for (const [name, config] of [["allow-all", ALLOW_ALL], ["all factors", ALL_FACTORS]] as const) {
    const [off, on] = await callbackCosts([config, observing(config)], msg);
    console.log(
      `  ${name.padEnd(12)} via emulator off ${us(off!.emulator)} on ${us(on!.emulator)} (${(on!.emulator / off!.emulator).toFixed(3)}x)` +
        `   export alone off ${off!.exportOnly.toFixed(0)} ns on ${on!.exportOnly.toFixed(0)} ns (${(on!.exportOnly / off!.exportOnly).toFixed(3)}x)`,
    );
  }
  console.log("");
  console.log(`(e) Wasm memory while ${SOURCES.toLocaleString("en-US")} distinct sources each open and close one connection (all factors; a flush every 10,000)`);
  for (const [name, config] of [["off", ALL_FACTORS], ["on", observing(ALL_FACTORS)]] as const) {
    const m = await memoryAtSources(config);
    console.log(
      `  observation ${name.padEnd(3)} growth after 10,000 sources ${(m.afterFirst / 1024).toFixed(0).padStart(5)} KiB, after 100,000 ${(m.growth / 1024).toFixed(0).padStart(5)} KiB` +
        (name === "on" ? `   connections reported ${m.reported.toLocaleString("en-US")} + dropped ${m.dropped.toLocaleString("en-US")}; largest report ${m.maxAggregates} aggregates` : ""),
    );
  }
}

await main();
