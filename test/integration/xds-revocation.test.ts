// Revocation through the whole chain: a policy file edit → xDS server → ECDS update → the filter
// closes the live connections the new policy no longer admits, and leaves the others alone.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { XdsApiType } from "../../xds-server/src/bootstrap/index.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { Envoy, Stops, TcpClient, XdsSidecar, freePorts, stopAllEnvoys } from "../../testkit/envoy/harness.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

const twoRules = (port: number, principalFree: boolean): string =>
  segment("db", "db", port).replace(
    "  rules:\n",
    `  rules:\n    - name: from-loopback\n      from: { ipBlocks: [${principalFree ? '"127.0.0.1/32"' : '"10.9.9.9/32"'}] }\n      ports: [${port}]\n`,
  );

/** A db sidecar over `api` fed by a server with the db policy, and one live connection through it. */
async function liveConnection(api: XdsApiType): Promise<{ port: number; server: Fixture; envoy: Envoy; live: TcpClient }> {
  const [port] = (await freePorts(1)) as [number];
  const server = stops.add(await startFixture({ "db.yaml": segment("db", "db", port) }, { wasmPath: defaultWasmPath() }));
  const sidecar = stops.add(await XdsSidecar.start({
    xdsPort: server.server.xdsPort,
    listenPort: port,
    api,
    node: { id: `db-${api}`, cluster: "shop", namespace: "shop", labels: { app: "db" } },
  }));
  const live = await TcpClient.connect(port);
  await live.write("hello\n");
  await live.waitForBytes(6);
  return { port, server, envoy: sidecar.envoy, live };
}

describe.each(["GRPC", "DELTA_GRPC"] as XdsApiType[])("revocation over %s", (api) => {
  it("a policy edit that no longer admits a live connection closes it within about a second, reason revoked", async () => {
    const { port, server, envoy, live } = await liveConnection(api);

    await server.write("db.yaml", segment("db", "db", port + 1));
    const t0 = Date.now();
    await live.waitForClose(4000);
    // Debounce (50 ms here) + push + the filter's tick (500 ms): well under 2 s.
    expect(Date.now() - t0).toBeLessThan(2000);
    const d = await envoy.waitForDecision((x) => x.reason === "revoked");
    expect(d).toMatchObject({ picoseg: "deny", segment: "shop/db", rule: `allow-${port}`, port, bytesIn: 6 });
  });

  it("a live connection the new policy still admits is left alone", async () => {
    const { port, server, envoy, live } = await liveConnection(api);
    await server.write("db.yaml", twoRules(port, true));
    await envoy.waitForCounter("extension_config_discovery.network_filter.picoseg.config_reload", 2, 3000);
    expect(await live.staysOpenFor(1500)).toBe(true);
    await live.write("again\n");
    await live.waitForBytes(12);
    expect(envoy.decisions().filter((x) => x.reason === "revoked")).toEqual([]);
  });
});
