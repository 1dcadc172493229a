// Push benchmark: N simulated delta-ECDS clients (each its own HTTP/2 connection, like N Envoys)
// on one xDS server process. For each policy change it measures the time from the file write to
// every client holding the new config (median, p99, max) and to the server having counted every
// ACK; plus the server's memory per connected client and its CPU time per push.
//
//   npx tsx bench/xds/run.ts [--clients 1000] [--workloads 20] [--rounds 5] [--debounce 150] [--grpc-js]
//
// Clients are hand-framed gRPC over node:http2 (h2-client.ts) unless --grpc-js, which uses a
// grpc-js channel per client (heavier for the load generator, same bytes on the wire).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadServices } from "../../xds-server/src/xds/protos.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../api/resources.js";
import { jsonToStruct, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from "../../xds-server/src/xds/server/messages.js";
import { connectH2Client } from "../../testkit/xds/h2-client.js";
import { appSegment as perApp, clientLabels, sharedSegment as shared } from "./policies.js";
import { forkBenchServer } from "./server-client.js";
import type { ServerSample } from "./server-process.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number`);
  return v;
}
const N = arg("clients", 1000);
const WORKLOADS = arg("workloads", 20);
const ROUNDS = arg("rounds", 5);
const DEBOUNCE = arg("debounce", 150);
const GRPC_JS = process.argv.includes("--grpc-js");

interface Client {
  version: string;
  /** When the current round's config arrived (ms, performance.now()). */
  updatedAt: number;
  close(): void;
}

function grpcJsClient(
  ctors: ReturnType<typeof loadServices>["clients"],
  address: string,
  i: number,
  onUpdate: () => void,
): Client {
  // A local subchannel pool: one HTTP/2 connection per client, as N Envoys would have.
  const channel = new ctors.ecds(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  const call = (
    channel as unknown as { DeltaExtensionConfigs(): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> }
  ).DeltaExtensionConfigs();
  const c: Client = {
    version: "",
    updatedAt: 0,
    close: () => {
      call.end();
      channel.close();
    },
  };
  call.on("data", (r: DeltaDiscoveryResponse) => {
    const res = r.resources[0];
    if (res) {
      c.version = res.version;
      c.updatedAt = performance.now();
      onUpdate();
    }
    call.write({ type_url: TYPED_EXTENSION_CONFIG_TYPE, response_nonce: r.nonce });
  });
  call.on("error", () => {});
  call.write({
    type_url: TYPED_EXTENSION_CONFIG_TYPE,
    resource_names_subscribe: ["picoseg"],
    node: {
      id: `bench-${i}`,
      cluster: "bench",
      metadata: jsonToStruct({ NAMESPACE: "bench", LABELS: clientLabels(i, WORKLOADS) }),
    },
  });
  return c;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const mib = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "picoseg-bench-"));
  await writeFile(path.join(dir, "shared.yaml"), shared(0));
  await writeFile(path.join(dir, "apps.yaml"), Array.from({ length: WORKLOADS }, (_, i) => perApp(i)).join("---\n"));

  const server = await forkBenchServer(dir, DEBOUNCE);
  const { child } = server;
  const sample = (what: "sample" | "memory" = "sample"): Promise<ServerSample> => server.sample(what);
  const before = await sample("memory");

  const { clients: ctors } = loadServices();
  const clients: Client[] = [];
  let received = 0;
  const t0 = performance.now();
  const onUpdate = (): void => {
    received++;
  };
  for (let i = 0; i < N; i++) {
    clients.push(
      GRPC_JS
        ? grpcJsClient(ctors, server.xdsAddress, i, onUpdate)
        : connectH2Client(server.xdsAddress, { id: `bench-${i}`, namespace: "bench", labels: clientLabels(i, WORKLOADS) }, onUpdate),
    );
    // Let connections establish as they are opened rather than all at once at the end.
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  while (received < N) await new Promise((r) => setTimeout(r, 10));
  const connectMs = performance.now() - t0;
  while ((await sample()).acks < N) await new Promise((r) => setTimeout(r, 10));

  console.log(
    `picoseg xDS push benchmark: ${N} delta-ECDS clients (${GRPC_JS ? "grpc-js" : "hand-framed node:http2"}, one HTTP/2 connection each), ${WORKLOADS} workloads, debounce ${DEBOUNCE} ms`,
  );
  console.log(`  connect + initial config to all: ${ms(connectMs)}`);

  const rows: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const s0 = await sample();
    const versions = new Set(clients.map((c) => c.version));
    received = 0;
    const start = performance.now();
    await writeFile(path.join(dir, "shared.yaml"), shared(round));
    while (received < N) await new Promise((r) => setTimeout(r, 2));
    const allReceived = performance.now() - start;
    let s1 = await sample();
    while (s1.acks < s0.acks + N) {
      await new Promise((r) => setTimeout(r, 5));
      s1 = await sample();
    }
    const allAcked = performance.now() - start;
    const lat = clients.map((c) => c.updatedAt - start);
    if (clients.some((c) => versions.has(c.version))) throw new Error("a client kept an old version");
    const pushes = s1.pushes - s0.pushes;
    rows.push(
      `  round ${round}: median ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(Math.max(...lat))}; all received ${ms(allReceived)}, all ACKed at server ${ms(allAcked)}; server CPU ${((s1.cpuMicros - s0.cpuMicros) / 1000).toFixed(0)} ms for ${pushes} pushes = ${((s1.cpuMicros - s0.cpuMicros) / Math.max(1, pushes)).toFixed(0)} µs/push`,
    );
    console.log(rows[rows.length - 1]);
  }
  console.log(`  (latencies are from the policy file write, so they include the ${DEBOUNCE} ms debounce)`);
  // Memory after the rounds, not between connecting and round 1: the forced full GC it takes
  // made the next push ~1.5x as costly (it alone made round 1 the slow one), and no real server
  // collects like that.
  const connected = await sample("memory");
  console.log(
    `  server memory (clients connected, after the rounds): rss ${mib(before.rss)} -> ${mib(connected.rss)}, heap ${mib(before.heapUsed)} -> ${mib(connected.heapUsed)}; per client: rss ${((connected.rss - before.rss) / N / 1024).toFixed(1)} KiB, heap ${((connected.heapUsed - before.heapUsed) / N / 1024).toFixed(1)} KiB`,
  );

  for (const c of clients) c.close();
  child.send("stop");
  await new Promise((r) => child.once("exit", r));
  await rm(dir, { recursive: true, force: true });
}

await main();
