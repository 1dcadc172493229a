// A real Envoy sidecar fed by the real xDS server, for every way a sidecar can ask: state of the
// world (GRPC) and delta (DELTA_GRPC), over ADS and over the standalone ECDS service. Each gets
// its config, enforces it, and follows a policy file edit without restart or listener drain.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { XdsApiType } from "../../xds-server/src/bootstrap/index.js";
import { PICOSEG_ECDS_RESOURCE } from "../../api/resources.js";
import { Stops, XdsSidecar, freePorts, stopAllEnvoys } from "../../testkit/envoy/harness.js";
import { roundTrip, roundTripUntil } from "../../testkit/envoy/round-trip.js";
import { segment, startFixture } from "../../testkit/xds/server-fixture.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

const combos: Array<{ api: XdsApiType; ads: boolean }> = [
  { api: "GRPC", ads: false },
  { api: "DELTA_GRPC", ads: false },
  { api: "GRPC", ads: true },
  { api: "DELTA_GRPC", ads: true },
];

describe.each(combos)("an Envoy sidecar over $api (ads: $ads)", ({ api, ads }) => {
  it("enforces the config it receives and follows a policy edit within 2 s, with no restart and no drain", async () => {
    const [listenPort, otherPort] = (await freePorts(2)) as [number, number];
    const fx = stops.add(await startFixture({ "db.yaml": segment("db", "db", listenPort) }, { wasmPath: defaultWasmPath() }));
    const sidecar = stops.add(await XdsSidecar.start({
      xdsPort: fx.server.xdsPort,
      listenPort,
      api,
      ads,
      node: { id: `db-${api}-${ads}`, cluster: "db.shop", namespace: "shop", labels: { app: "db" } },
    }));
    const envoy = sidecar.envoy;
    expect(await roundTrip(listenPort)).toBe("allowed");
    const st = fx.server.status().proxies[0]!;
    expect(st.streams[0]).toMatchObject({ service: ads ? "ads" : "ecds", protocol: api === "GRPC" ? "sotw" : "delta" });
    expect(st.resources[0]).toMatchObject({ name: PICOSEG_ECDS_RESOURCE, acked: st.resources[0]!.current });

    await fx.write("db.yaml", segment("db", "db", otherPort));
    await roundTripUntil(listenPort, "denied", 2000);
    const d = await envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === "port");
    expect(d.segment).toBe("shop/db");

    const stats = await envoy.stats("listener_manager|extension_config_discovery|server.hot_restart_epoch");
    expect(stats.get("listener_manager.listener_modified")).toBe(0);
    expect(stats.get("listener_manager.total_listeners_draining")).toBe(0);
    expect(stats.get(`extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_reload`)).toBe(2);
    expect(stats.get(`extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.config_fail`) ?? 0).toBe(0);
    expect(envoy.isRunning()).toBe(true);
    const after = fx.server.status().proxies[0]!.resources[0]!;
    expect(after.acked).toBe(after.current);
  });
});
