// The harness itself against the real Envoy: traffic through tcp_proxy with an allow-all picoseg
// configuration, the echo upstream's per-connection record, and mTLS with generated certificates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticBootstrap } from "../../xds-server/src/bootstrap/index.js";
import { filterWasmPath } from "../../xds-server/src/util/index.js";
import {
  Envoy, TcpClient, Upstream, freePorts, generateMtls, startFactFilterEnvoy, stopAllEnvoys, type MtlsMaterial,
  waitFor,
} from "../../testkit/envoy/harness.js";

const ALLOW_ALL = ["picoseg 1", "segment it/allow-all enforce", "rule all", "end", ""].join("\n");
const API = "spiffe://cluster.local/ns/payments/sa/api";

describe("integration harness", () => {
  let envoy: Envoy;
  let echo: Upstream;
  let certs: MtlsMaterial;
  let plainPort: number;
  let tlsPort: number;

  beforeAll(async () => {
    echo = await Upstream.start();
    certs = generateMtls([API]);
    [plainPort, tlsPort] = (await freePorts(2)) as [number, number];
    envoy = await Envoy.start(
      staticBootstrap({
        admin: { host: "127.0.0.1", port: 0 },
        wasm: { filename: filterWasmPath() },
        configuration: ALLOW_ALL,
        listeners: [
          { listen: { host: "127.0.0.1", port: plainPort }, upstream: { host: "127.0.0.1", port: echo.port } },
          {
            listen: { host: "127.0.0.1", port: tlsPort },
            upstream: { host: "127.0.0.1", port: echo.port },
            tls: certs.listenerTls,
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await envoy?.stop();
    await stopAllEnvoys();
    await echo?.stop();
    certs?.cleanup();
  });

  it("carries bytes both ways and the upstream records exactly what arrived", async () => {
    const c = await TcpClient.connect(plainPort);
    await c.write("hello ");
    await c.write("world\n");
    expect((await c.waitForBytes(12)).toString()).toBe("hello world\n");
    const up = await echo.waitForConnection(1);
    expect(up.received().toString()).toBe("hello world\n");
    c.destroy();
  });

  it("completes an mTLS handshake with a client certificate from the generated CA", async () => {
    const c = await TcpClient.connect(tlsPort, { tls: certs.clientTls(API) });
    await c.write("over tls\n");
    expect((await c.waitForBytes(9)).toString()).toBe("over tls\n");
    c.destroy();
  });

  it("refuses a TLS client without a certificate (require_client_certificate)", async () => {
    const before = echo.totalReceived();
    let failed = false;
    try {
      const c = await TcpClient.connect(tlsPort, { tls: { certPem: "", keyPem: "", caPem: certs.caPem } });
      await c.write("x");
      await c.waitForClose(5000);
      failed = true;
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    // tcp_proxy may already have opened its upstream connection (Envoy runs network filters'
    // onNewConnection before the TLS handshake ends), but not one byte may have crossed.
    expect(echo.totalReceived()).toBe(before);
  });

  it("reads Envoy's stats through the admin API", async () => {
    const s = await envoy.stats("^listener\\.");
    expect([...s.keys()].some((k) => k.includes("downstream_cx_total"))).toBe(true);
  });

  it("notices when Envoy reports a Wasm trap (probe/trap.as traps on downstream data)", async () => {
    expect(envoy.wasmFailures()).toEqual([]);
    const [port] = (await freePorts(1)) as [number];
    const probe = await startFactFilterEnvoy("trap", { listen: { host: "127.0.0.1", port }, upstream: { host: "127.0.0.1", port: echo.port } }, {
      concurrency: 1,
    });
    const trapping = probe.envoy;
    try {
      const c = await TcpClient.connect(port);
      await c.write("boom");
      await c.waitForClose(3000);
      const failures = await waitFor("a Wasm failure in Envoy's log", () => {
        const f = trapping.wasmFailures();
        return f.length > 0 ? f : undefined;
      }, 3000);
      expect(failures.join("\n")).toMatch(/proxy_on_downstream_data/);
    } finally {
      await probe.stop();
    }
  });
});
