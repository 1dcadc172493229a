// A sidecar whose filter config never arrives (no xDS server answers) denies everything: the
// bootstrap has no default config for the ECDS-delivered picoseg filter, so once the initial fetch
// times out Envoy activates the listener and closes every connection before tcp_proxy runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sidecarBootstrap } from "../../xds-server/src/bootstrap/index.js";
import { PICOSEG_ECDS_RESOURCE } from "../../api/resources.js";
import { Envoy, TcpClient, Upstream, freePorts, stopAllEnvoys } from "../../testkit/envoy/harness.js";

describe("a sidecar whose picoseg config has not arrived", () => {
  let envoy: Envoy;
  let echo: Upstream;
  let listenPort: number;

  beforeAll(async () => {
    echo = await Upstream.start();
    // Nothing listens on xdsPort: the config can never arrive.
    const [lp, xdsPort] = (await freePorts(2)) as [number, number];
    listenPort = lp;
    envoy = await Envoy.start(sidecarBootstrap({
      admin: { host: "127.0.0.1", port: 0 },
      xds: { host: "127.0.0.1", port: xdsPort },
      initialFetchTimeoutSeconds: 1,
      listener: { listen: { host: "127.0.0.1", port: listenPort }, upstream: { host: "127.0.0.1", port: echo.port } },
      node: { id: "no-config-sidecar", cluster: "db.payments", namespace: "payments", labels: { app: "payments-db" } },
    }));
  });

  afterAll(async () => {
    await envoy?.stop();
    await stopAllEnvoys();
    await echo?.stop();
  });

  it("closes the connection, forwards nothing upstream and counts the missing filter config", async () => {
    expect(await envoy.counter(`extension_config_discovery.network_filter.${PICOSEG_ECDS_RESOURCE}.init_fetch_timeout`)).toBe(1);
    const c = await TcpClient.connect(listenPort);
    await c.write("SELECT 1;\n");
    await c.waitForClose(3000);
    expect(c.received().length).toBe(0);
    expect(echo.connections.length).toBe(0);
    expect(await envoy.counter(`listener.127.0.0.1_${listenPort}.network_extension_config_missing`)).toBe(1);
  });

  it("keeps denying: a second connection is closed the same way", async () => {
    const c = await TcpClient.connect(listenPort);
    await c.write("PING\r\n");
    await c.waitForClose(3000);
    expect(echo.connections.length).toBe(0);
    expect(await envoy.counter(`listener.127.0.0.1_${listenPort}.network_extension_config_missing`)).toBe(2);
  });
});
