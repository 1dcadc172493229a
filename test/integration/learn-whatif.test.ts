// Observe → propose → replay, end to end through a real Envoy: `picoseg learn` proposes a segment
// from what the sidecar reported and `picoseg validate` accepts it; `picoseg what-if` replays the
// observed mix against a candidate; then the candidate runs in audit mode in the same Envoy over
// the same mix, and its audit counters equal what-if's counts, reason by reason.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { learningSegment } from "../../xds-server/src/learn/segment.js";
import type { WhatIfResult } from "../../xds-server/src/learn/whatif.js";
import { defaultWasmPath } from "../../xds-server/src/server.js";
import { Stops, XdsSidecar, exchange, freePorts, picoseg, stopAllEnvoys, waitFor } from "./harness/index.js";
import { startFixture } from "../xds/server-fixture.js";

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

// Admits http1 from 127.0.0.2, .4 and .5 (1000 bytes in at most), nothing else.
const candidate = (port: number) => `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: db, namespace: shop }
spec:
  selector: { matchLabels: { app: db } }
  mode: audit
  rules:
    - name: api
      from: { ipBlocks: ["127.0.0.2/32", "127.0.0.4/32", "127.0.0.5/32"] }
      ports: [${port}]
      protocols: [http1]
      limits: { maxBytesIn: 1000 }
`;

/** The generated mix: per source, a protocol, a size and a count (each group homogeneous). */
const MIX = [
  { from: "127.0.0.2", payload: "GET / HTTP/1.1\r\nHost: db\r\n\r\n", times: 3 }, // admitted
  { from: "127.0.0.3", payload: `*1\r\n$${3000}\r\n${"p".repeat(3000)}\r\n`, times: 2 }, // source
  { from: "127.0.0.4", payload: "x".repeat(50), times: 2 }, // protocol (unknown)
  { from: "127.0.0.5", payload: `POST / HTTP/1.1\r\nContent-Length: 8000\r\n\r\n${"b".repeat(8000)}`, times: 2 }, // bytes-in
];

async function runMix(port: number): Promise<void> {
  for (const m of MIX) for (let i = 0; i < m.times; i++) await exchange(port, m.from, m.payload);
}

describe("learn and what-if against a real Envoy", () => {
  it("proposes a valid segment, and what-if's counts equal the filter's audit counters for the same traffic", async () => {
    const [port] = (await freePorts(1)) as [number];
    const learning = learningSegment({ name: "db-learn", namespace: "shop", app: "db", ports: [port] });
    const fx = stops.add(await startFixture({ "db.yaml": learning }, { wasmPath: defaultWasmPath(), observations: { report: { intervalMs: 1000 } } }));
    const sidecar = stops.add(await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort: port, node: { id: "db-agree", cluster: "db.shop", namespace: "shop", labels: { app: "db" } } }));
    await waitFor("the config ACKed", () => fx.server.status().proxies[0]?.resources[0]?.acked, 5000);
    await runMix(port);
    const observed = () => fx.server.observations.query("shop/db", 0).flatMap((r) => r.report.conns).reduce((a, c) => a + c.n, 0);
    await waitFor("the mix reported", () => (observed() === 9 ? true : undefined), 10_000);

    const scratch = await mkdtemp(path.join(tmpdir(), "picoseg-learn-"));
    stops.add({ close: () => rm(scratch, { recursive: true, force: true }) });
    const proposal = path.join(scratch, "proposal.yaml");
    await picoseg("learn", "--server", fx.server.httpUrl, "--workload", "shop/db", "--since", "1h", "--margin", "2", "--timezone", "Europe/Berlin", "--out", proposal);
    const text = await readFile(proposal, "utf8");
    expect(text).toMatch(/mode: audit/);
    expect(text).toMatch(/- "127\.0\.0\.5\/32"\s+# 2 connections/);
    expect(text).toMatch(/protocols: \[http1, redis, unknown\]/);
    const validated = await picoseg("validate", proposal);
    expect(validated.stdout + validated.stderr).toMatch(/1 segment valid/);

    // The proposal admits all of the observed mix.
    const proposalDir = path.join(scratch, "proposal");
    await mkdir(proposalDir);
    await writeFile(path.join(proposalDir, "p.yaml"), text);
    const clean = JSON.parse((await picoseg("what-if", "--policies", proposalDir, "--workload", "shop/db", "--server", fx.server.httpUrl, "--json")).stdout) as WhatIfResult;
    expect(clean.byReason).toEqual({});
    expect(clean.clean).toEqual({ lo: 9, hi: 9 });

    const candidateDir = path.join(scratch, "candidate");
    await mkdir(candidateDir);
    await writeFile(path.join(candidateDir, "db.yaml"), candidate(port));
    const out = await picoseg("what-if", "--policies", candidateDir, "--workload", "shop/db", "--server", fx.server.httpUrl, "--json");
    const predicted = JSON.parse(out.stdout) as WhatIfResult;
    expect(predicted.byReason).toEqual({ source: { lo: 2, hi: 2 }, protocol: { lo: 2, hi: 2 }, "bytes-in": { lo: 2, hi: 2 } });
    expect(predicted.bySource["127.0.0.3"]).toEqual({ source: { lo: 2, hi: 2 } });

    // The same mix through the same Envoy under the candidate, in audit mode.
    await fx.write("db.yaml", candidate(port));
    await waitFor("the candidate in force", async () => ((await sidecar.envoy.stats("extension_config_discovery")).get("extension_config_discovery.network_filter.picoseg.config_reload") === 2 ? true : undefined), 5000);
    const before = await sidecar.envoy.stats("picoseg.audit");
    await runMix(port);
    const after = await sidecar.envoy.stats("picoseg.audit");
    for (const reason of ["source", "protocol", "bytes-in", "port", "schedule", "bytes-out", "message-size", "duration", "no-rule"]) {
      const name = `wasmcustom.picoseg.audit.${reason}`;
      const counted = (after.get(name) ?? 0) - (before.get(name) ?? 0);
      const want = predicted.byReason[reason as keyof WhatIfResult["byReason"]];
      expect([reason, counted]).toEqual([reason, want ? want.lo : 0]);
    }
  });
});
