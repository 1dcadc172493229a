// The xDS server's life with real Envoys: per-workload configs, refused edits, NACKs, restarts.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { XdsApiType } from "../../xds-server/src/bootstrap/index.js";
import { PICOSEG_ECDS_RESOURCE } from "../../api/resources.js";
import { defaultWasmPath, startXdsServer, type RunningXdsServer } from "../../xds-server/src/server/server.js";
import { Envoy, XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { roundTrip, roundTripUntil } from "../../testkit/envoy/round-trip.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

let fx: Fixture | undefined;
const sidecars: XdsSidecar[] = [];
const servers: RunningXdsServer[] = [];
afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.stop();
  for (const s of servers.splice(0)) await s.close();
  await fx?.close();
  fx = undefined;
});
afterAll(stopAllEnvoys);

async function sidecar(
  xdsPort: number,
  listenPort: number,
  id: string,
  labels: Record<string, string>,
  api: XdsApiType = "DELTA_GRPC",
): Promise<Envoy> {
  const s = await XdsSidecar.start({ xdsPort, listenPort, api, node: { id, cluster: "shop", namespace: "shop", labels } });
  sidecars.push(s);
  return s.envoy;
}

const wasm = defaultWasmPath();

describe("the xDS server with real Envoys", () => {
  it("gives two differently labelled sidecars different configs, hence different decisions", async () => {
    const [dbPort, apiPort] = (await freePorts(2)) as [number, number];
    fx = await startFixture({ "db.yaml": segment("db", "db", dbPort) }, { wasmPath: wasm });
    const db = await sidecar(fx.server.xdsPort, dbPort, "db-1", { app: "db" });
    const api = await sidecar(fx.server.xdsPort, apiPort, "api-1", { app: "api" }, "GRPC");
    expect(await roundTrip(dbPort)).toBe("allowed");
    expect(await roundTrip(apiPort)).toBe("denied");
    expect((await api.waitForDecision((d) => d.picoseg === "deny")).reason).toBe("no-rule");
    expect(db.decisions().filter((d) => d.picoseg === "deny")).toEqual([]);
    const segments = Object.fromEntries(fx.server.status().proxies.map((p) => [p.nodeId, p.segments]));
    expect(segments).toEqual({ "db-1": ["shop/db"], "api-1": [] });
  });

  it("refuses an invalid policy edit and keeps enforcing the previous segment", async () => {
    const [port] = (await freePorts(1)) as [number];
    fx = await startFixture({ "db.yaml": segment("db", "db", port) }, { wasmPath: wasm });
    const e = await sidecar(fx.server.xdsPort, port, "db-1", { app: "db" });
    expect(await roundTrip(port)).toBe("allowed");
    await fx.write("db.yaml", segment("db", "db", port).replace("ports:", "portz:"));
    await waitFor("the refusal", () => (fx!.server.status().refusals.length > 0 ? true : undefined), 3000);
    expect(fx.server.status().refusals[0]!.text).toMatch(/db\.yaml:\d+: /);
    expect(await roundTrip(port)).toBe("allowed");
    expect(await e.counter(`extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_reload`)).toBe(1);
  });

  it.each(["DELTA_GRPC", "GRPC"] as XdsApiType[])("over %s: shows a NACK in status while the sidecar keeps its last config, and resyncs after a restart under traffic", async (api) => {
    const [port, xdsPort] = (await freePorts(2)) as [number, number];
    fx = await startFixture({ "db.yaml": segment("db", "db", port) }, { wasmPath: wasm, xdsPort });
    const e = await sidecar(xdsPort, port, "db-1", { app: "db" }, api);
    expect(await roundTrip(port)).toBe("allowed");
    const acked = fx.server.status().proxies[0]!.resources[0]!.acked;

    // A server whose module path does not exist: Envoy rejects that config.
    await fx.server.close();
    const broken = await startXdsServer({ policies: fx.dir, xdsPort, httpPort: 0, wasmPath: "/nonexistent/picoseg.wasm", log: () => {} });
    servers.push(broken);
    const nack = await waitFor("a NACK in status", () => broken.status().proxies[0]?.resources[0]?.nack, 15_000);
    expect(nack.detail).toContain("/nonexistent/picoseg.wasm"); // Envoy's own words: "Invalid path: …"
    // What it runs: a delta client says on reconnecting which version it holds (the one ACKed
    // before); a sotw client names no per-resource version, so nothing counts as ACKed there.
    expect(broken.status().proxies[0]!.resources[0]!.acked).toBe(api === "DELTA_GRPC" ? acked : undefined);
    expect(await roundTrip(port)).toBe("allowed"); // still the config it ACKed before
    expect(await e.counter(`extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_fail`)).toBeGreaterThanOrEqual(1);

    // Down: the sidecar keeps enforcing; the policy changes meanwhile.
    await broken.close();
    await fx.write("db.yaml", segment("db", "db", port + 1));
    for (let i = 0; i < 5; i++) expect(await roundTrip(port)).toBe("allowed");

    // Back up on the same port: the sidecar reconnects and gets the new policy.
    const back = await startXdsServer({ policies: fx.dir, xdsPort, httpPort: 0, wasmPath: wasm, log: () => {} });
    servers.push(back);
    await roundTripUntil(port, "denied", 20_000);
    const res = await waitFor("the ACK after the resync", () => {
      const r = back.status().proxies[0]?.resources[0];
      return r?.acked !== undefined && r.acked === r.current ? r : undefined;
    }, 5000);
    expect(res.acked).not.toBe(acked);
    expect(e.isRunning()).toBe(true);
  }, 60_000);
});
