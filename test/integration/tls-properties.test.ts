// When does a network filter learn the mTLS peer's identity? Checked in the real Envoy with a probe
// filter (probe/props.as) that reads `connection.uri_san_peer_certificate` and `connection.mtls` at
// proxy_on_new_connection and at the first proxy_on_downstream_data. Envoy runs network filters'
// onNewConnection when the TCP connection is accepted, before the TLS handshake, so a filter that
// decides on the principal must wait for the first downstream data (or another later callback).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Envoy, TcpClient, Upstream, freePorts, generateMtls, startFactFilterEnvoy, stopAllEnvoys, waitFor, type MtlsMaterial,
  type FactFilterEnvoy,
} from "../../testkit/envoy/harness.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";

describe("the peer certificate's URI SAN as a network filter sees it (real Envoy, downstream mTLS)", () => {
  let envoy: Envoy;
  let echo: Upstream;
  let certs: MtlsMaterial;
  let probe: FactFilterEnvoy;
  let port: number;

  beforeAll(async () => {
    certs = generateMtls([API]);
    echo = await Upstream.start();
    [port] = (await freePorts(1)) as [number];
    probe = await startFactFilterEnvoy("props", {
      listen: { host: "127.0.0.1", port },
      upstream: { host: "127.0.0.1", port: echo.port },
      tls: certs.listenerTls,
    });
    envoy = probe.envoy;
  });

  afterAll(async () => {
    await probe?.stop();
    await stopAllEnvoys();
    await echo?.stop();
    certs?.cleanup();
  });

  it("is not yet known at proxy_on_new_connection and is known at the first downstream data", async () => {
    const c = await TcpClient.connect(port, { tls: certs.clientTls(API) });
    await c.write("hello\n");
    await c.waitForBytes(6, 3000);
    const lines = await waitFor("both probe lines", () => {
      const l = envoy.log().split("\n").filter((x) => x.includes("picoseg-probe "));
      return l.length >= 2 ? l : undefined;
    }, 3000);
    const at = (moment: string) => lines.find((l) => l.includes(`picoseg-probe ${moment} `)) ?? "";
    expect(at("new_connection")).not.toContain(API);
    expect(at("first_downstream_data")).toContain(`uri_san=${API}`);
    expect(at("first_downstream_data")).toContain("mtls=1");
    c.destroy();
  });
});
