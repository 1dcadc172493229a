// Stream abuse against the real server while a real Envoy depends on it: one client opens 300
// streams, each with a node id of its own, and claims the Envoy's node id with other metadata.
// The streams past the per-peer bound are refused, the hijack is refused, and the Envoy keeps its
// config and still follows a policy edit.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PICOSEG_ECDS_RESOURCE } from "../../api/resources.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { roundTrip, roundTripUntil } from "../../testkit/envoy/round-trip.js";
import { SotwEnvoy } from "../../testkit/xds/fake-envoy.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

const ABUSIVE_STREAMS = 300;
const PER_PEER = 64;

let fx: Fixture | undefined;
let sidecar: XdsSidecar | undefined;
const abusers: SotwEnvoy[] = [];
afterEach(async () => {
  for (const a of abusers.splice(0)) a.close();
  await sidecar?.stop();
  await fx?.close();
  sidecar = fx = undefined;
});
afterAll(stopAllEnvoys);

describe("stream abuse", () => {
  it(`${ABUSIVE_STREAMS} streams and a node-id hijack from one client: bounded at ${PER_PEER} per peer, the real Envoy unaffected`, async () => {
    const [port, other] = (await freePorts(2)) as [number, number];
    fx = await startFixture({ "db.yaml": segment("db", "db", port) }, { wasmPath: defaultWasmPath(), maxStreamsPerPeer: PER_PEER });
    sidecar = await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort: port, node: { id: "db-1", cluster: "db.shop", namespace: "shop", labels: { app: "db" } } });
    expect(await roundTrip(port)).toBe("allowed");

    // The hijack: the Envoy's node id, an audit workload's metadata.
    const hijack = new SotwEnvoy(fx.server.xdsAddress, "ecds", { id: "db-1", namespace: "analytics", labels: { app: "api" } });
    abusers.push(hijack);
    hijack.subscribe([PICOSEG_ECDS_RESOURCE]);
    expect(await hijack.inbox.next().then(() => "served", (e: { code?: number }) => e.code)).toBe(6);

    const outcomes = await Promise.all(
      Array.from({ length: ABUSIVE_STREAMS }, async (_, i) => {
        const a = new SotwEnvoy(fx!.server.xdsAddress, "ads", { id: `bot-${i}`, namespace: "shop", labels: { app: `bot-${i}` } });
        abusers.push(a);
        a.subscribe([PICOSEG_ECDS_RESOURCE]);
        return a.inbox.next(10_000).then(() => "served", (e: { code?: number }) => (e.code === 8 ? "refused" : `other ${String(e.code)}`));
      }),
    );
    // The Envoy holds one of the peer's places.
    expect(outcomes.filter((o) => o === "served").length).toBe(PER_PEER - 1);
    expect(outcomes.filter((o) => o === "refused").length).toBe(ABUSIVE_STREAMS - PER_PEER + 1);
    expect(fx.server.status().proxies.length).toBe(PER_PEER);

    // The Envoy still has its own config and follows an edit.
    expect(await roundTrip(port)).toBe("allowed");
    await fx.write("db.yaml", segment("db", "db", other));
    await roundTripUntil(port, "denied", 5000);
    const st = await waitFor("the Envoy's ACK of the edit", () => {
      const p = fx!.server.status().proxies.find((x) => x.nodeId === "db-1");
      const r = p?.resources[0];
      return r && r.acked === r.current ? p : undefined;
    }, 5000);
    expect(st.workload.namespace).toBe("shop");
    expect(await sidecar.envoy.counter(`extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_reload`)).toBe(2);
  });
});
