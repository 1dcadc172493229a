// Observe → propose → replay, end to end through a real Envoy: `picoseg learn` proposes a segment
// from what the sidecar reported and `picoseg validate` accepts it; `picoseg what-if` replays the
// observed mix against a candidate; then the candidate runs in audit mode in the same Envoy over
// the same mix, and its audit counters equal what-if's counts, reason by reason. Twice: on reads,
// and with messages framed (lengthPrefixed), where a read holds many messages or part of one.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { learningSegment } from "../../xds-server/src/learn/segment.js";
import type { WhatIfResult } from "../../xds-server/src/learn/whatif.js";
import type { Framing } from "../../api/picosegment.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { Stops, XdsSidecar, exchange, freePorts, picoseg, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { startFixture } from "../../testkit/xds/server-fixture.js";

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

const AUDITED = ["source", "protocol", "bytes-in", "port", "schedule", "bytes-out", "message-size", "duration", "no-rule"] as const;

/** Per source, a payload and how many connections carry it (each group homogeneous). */
type Mix = Array<{ from: string; payload: string | Buffer; times: number }>;

interface Scenario {
  /** The framing the learning segment observes under (none: reads). */
  framing?: Framing;
  mix: Mix;
  /** The candidate segment for the sidecar's port. */
  candidate: (port: number) => string;
  /** Checks on the proposal's text (already validated). */
  proposal: (text: string) => void;
  /** What-if's counts for the candidate, by reason. */
  predicted: WhatIfResult["byReason"];
}

async function runMix(port: number, mix: Mix): Promise<void> {
  for (const m of mix) for (let i = 0; i < m.times; i++) await exchange(port, m.from, m.payload);
}

/** Learning → proposal (valid, admits the whole mix) → what-if of the candidate → the candidate in audit mode: the same counts. */
async function observeProposeAudit(s: Scenario): Promise<void> {
  const [port] = (await freePorts(1)) as [number];
  const connections = s.mix.reduce((a, m) => a + m.times, 0);
  const learning = learningSegment({ name: "db-learn", namespace: "shop", app: "db", ports: [port], ...(s.framing ? { framing: s.framing } : {}) });
  const fx = stops.add(await startFixture({ "db.yaml": learning }, { wasmPath: defaultWasmPath(), observations: { report: { intervalMs: 1000 } } }));
  const sidecar = stops.add(await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort: port, node: { id: "db-agree", cluster: "db.shop", namespace: "shop", labels: { app: "db" } } }));
  await waitFor("the config ACKed", () => fx.server.status().proxies[0]?.resources[0]?.acked, 5000);
  await runMix(port, s.mix);
  const observed = () => fx.server.observations.query("shop/db", 0).flatMap((r) => r.report.conns).reduce((a, c) => a + c.n, 0);
  await waitFor("the mix reported", () => (observed() === connections ? true : undefined), 10_000);

  const scratch = await mkdtemp(path.join(tmpdir(), "picoseg-learn-"));
  stops.add({ close: () => rm(scratch, { recursive: true, force: true }) });
  const proposal = path.join(scratch, "proposal.yaml");
  await picoseg("learn", "--server", fx.server.httpUrl, "--workload", "shop/db", "--since", "1h", "--margin", "2", "--timezone", "Europe/Berlin", "--out", proposal);
  const text = await readFile(proposal, "utf8");
  expect(text).toMatch(/mode: audit/);
  const validated = await picoseg("validate", proposal);
  expect(validated.stdout + validated.stderr).toMatch(/1 segment valid/);
  s.proposal(text);

  // The proposal admits all of the observed mix.
  const proposalDir = path.join(scratch, "proposal");
  await mkdir(proposalDir);
  await writeFile(path.join(proposalDir, "p.yaml"), text);
  const clean = JSON.parse((await picoseg("what-if", "--policies", proposalDir, "--workload", "shop/db", "--server", fx.server.httpUrl, "--json")).stdout) as WhatIfResult;
  expect(clean.byReason).toEqual({});
  expect(clean.clean).toEqual({ lo: connections, hi: connections });
  expect(clean.notes).toEqual([]);

  const candidateDir = path.join(scratch, "candidate");
  await mkdir(candidateDir);
  await writeFile(path.join(candidateDir, "db.yaml"), s.candidate(port));
  const out = await picoseg("what-if", "--policies", candidateDir, "--workload", "shop/db", "--server", fx.server.httpUrl, "-o", "json");
  const predicted = JSON.parse(out.stdout) as WhatIfResult;
  expect(predicted.byReason).toEqual(s.predicted);
  expect(predicted.notes).toEqual([]);

  // The same mix through the same Envoy under the candidate, in audit mode.
  await fx.write("db.yaml", s.candidate(port));
  await waitFor("the candidate in force", async () => ((await sidecar.envoy.stats("extension_config_discovery")).get("extension_config_discovery.network_filter.picoseg.config_reload") === 2 ? true : undefined), 5000);
  const before = await sidecar.envoy.stats("picoseg.audit");
  await runMix(port, s.mix);
  const after = await sidecar.envoy.stats("picoseg.audit");
  for (const reason of AUDITED) {
    const name = `wasmcustom.picoseg.audit.${reason}`;
    const counted = (after.get(name) ?? 0) - (before.get(name) ?? 0);
    const want = predicted.byReason[reason];
    expect([reason, counted]).toEqual([reason, want ? want.lo : 0]);
  }
}

/** The candidate: one audit-mode rule `api` for shop/db, of the given attribute lines. */
function candidate(ruleLines: string): string {
  return ["apiVersion: picoseg.io/v1alpha1", "kind: PicoSegment", "metadata: { name: db, namespace: shop }", "spec:",
    "  selector: { matchLabels: { app: db } }", "  mode: audit", "  rules:", "    - name: api", ruleLines, ""].join("\n");
}

/** A message under `lengthPrefixed 0 2 big 0`: a 2-byte big-endian length, then that many bytes; `total` counts both. */
function message(total: number): Buffer {
  const m = Buffer.alloc(total, 0x78);
  m.writeUInt16BE(total - 2, 0);
  return m;
}

const LENGTH_PREFIXED: Framing = { type: "lengthPrefixed", offset: 0, width: 2, endian: "big", adjustment: 0 };

describe("learn and what-if against a real Envoy", () => {
  it("proposes a valid segment, and what-if's counts equal the filter's audit counters for the same traffic", async () => {
    await observeProposeAudit({
      mix: [
        { from: "127.0.0.2", payload: "GET / HTTP/1.1\r\nHost: db\r\n\r\n", times: 3 }, // admitted
        { from: "127.0.0.3", payload: `*1\r\n$${3000}\r\n${"p".repeat(3000)}\r\n`, times: 2 }, // source
        { from: "127.0.0.4", payload: "x".repeat(50), times: 2 }, // protocol (unknown)
        { from: "127.0.0.5", payload: `POST / HTTP/1.1\r\nContent-Length: 8000\r\n\r\n${"b".repeat(8000)}`, times: 2 }, // bytes-in
      ],
      // Admits http1 from 127.0.0.2, .4 and .5 (1000 bytes in at most), nothing else.
      candidate: (port) => candidate(`      from: { ipBlocks: ["127.0.0.2/32", "127.0.0.4/32", "127.0.0.5/32"] }
      ports: [${port}]
      protocols: [http1]
      limits: { maxBytesIn: 1000 }`),
      proposal: (text) => {
        expect(text).toMatch(/- "127\.0\.0\.5\/32"\s+# 2 connections/);
        expect(text).toMatch(/protocols: \[http1, redis, unknown\]/);
        expect(text).toMatch(/framing: \{ type: chunk \}/);
      },
      predicted: { source: { lo: 2, hi: 2 }, protocol: { lo: 2, hi: 2 }, "bytes-in": { lo: 2, hi: 2 } },
    });
  });

  it("measures messages under a lengthPrefixed framing: the proposal names it, and what-if's message-size count equals the filter's", async () => {
    await observeProposeAudit({
      framing: LENGTH_PREFIXED,
      mix: [
        // Twenty 50-byte messages in one write: a 1,000-byte read, no message over 100.
        { from: "127.0.0.2", payload: Buffer.concat(Array.from({ length: 20 }, () => message(50))), times: 3 },
        // A 500-byte message between two small ones.
        { from: "127.0.0.3", payload: Buffer.concat([message(30), message(500), message(30)]), times: 2 },
        { from: "127.0.0.4", payload: message(100), times: 2 }, // exactly the limit
        { from: "127.0.0.5", payload: message(101), times: 2 }, // one byte over
      ],
      candidate: (port) => candidate(`      ports: [${port}]
      limits: { maxMessageBytes: 100, framing: { type: lengthPrefixed, offset: 0, width: 2 } }`),
      proposal: (text) => {
        // 500 × 2 = 1,000 bytes → 1Ki, under the framing observed.
        expect(text).toMatch(/maxMessageBytes: 1Ki\s+# largest lengthPrefixed message 500 B over 9 connections/);
        expect(text).toMatch(/framing: \{ type: lengthPrefixed, offset: 0, width: 2, endian: big, adjustment: 0 \}/);
      },
      predicted: { "message-size": { lo: 4, hi: 4 } },
    });
  });
});
