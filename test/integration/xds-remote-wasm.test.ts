// The module served remotely: Envoy fetches picoseg.wasm from the xDS server's HTTP side and
// checks its sha256. Bytes that do not match the advertised sha256 never run: Envoy fails closed.
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { sidecarBootstrap, type Bootstrap } from "../../xds-server/src/bootstrap/index.js";
import { startAdmin, type AdminServer } from "../../xds-server/src/admin/server.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { Envoy, Upstream, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";
import { roundTrip } from "../../testkit/envoy/round-trip.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";
import { Registry } from "prom-client";

let fx: Fixture | undefined;
let envoy: Envoy | undefined;
let echo: Upstream | undefined;
let decoy: AdminServer | undefined;
let tmp: string | undefined;
afterEach(async () => {
  await envoy?.stop();
  await echo?.stop();
  await decoy?.close();
  await fx?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  envoy = echo = fx = decoy = tmp = undefined;
});
afterAll(stopAllEnvoys);

const HTTP_CLUSTER = "picoseg_http";

/** The sidecar bootstrap plus a cluster that reaches the server's HTTP side. */
function withHttpCluster(b: Bootstrap, port: number): Bootstrap {
  b.static_resources.clusters.push({
    name: HTTP_CLUSTER,
    type: "STATIC",
    connect_timeout: "2s",
    load_assignment: {
      cluster_name: HTTP_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }],
    },
  });
  return b;
}

async function sidecarFor(f: Fixture, listenPort: number, httpPort: number): Promise<Envoy> {
  echo = await Upstream.start();
  return Envoy.start(
    withHttpCluster(
      sidecarBootstrap({
        admin: { host: "127.0.0.1", port: 0 },
        xds: { host: "127.0.0.1", port: f.server.xdsPort },
        api: "DELTA_GRPC",
        listener: { listen: { host: "127.0.0.1", port: listenPort }, upstream: { host: "127.0.0.1", port: echo.port } },
        node: { id: "db-remote", cluster: "shop", namespace: "shop", labels: { app: "db" } },
      }),
      httpPort,
    ),
    { readyTimeoutMs: 20_000 },
  );
}

describe("the filter module served by the xDS server", () => {
  it("is fetched by Envoy over HTTP, checked against its sha256, and enforces", async () => {
    const [listenPort, httpPort] = (await freePorts(2)) as [number, number];
    fx = await startFixture(
      { "db.yaml": segment("db", "db", listenPort) },
      { wasmPath: defaultWasmPath(), httpPort, remoteWasm: { cluster: HTTP_CLUSTER } },
    );
    envoy = await sidecarFor(fx, listenPort, httpPort);
    expect(await roundTrip(listenPort)).toBe("allowed");
    const r = fx.server.status().proxies[0]!.resources[0]!;
    expect(r.acked).toBe(r.current);
  });

  it("whose bytes do not match the advertised sha256 fails to load in Envoy, which then denies everything", async () => {
    const [listenPort, httpPort, decoyPort] = (await freePorts(3)) as [number, number, number];
    tmp = await mkdtemp(path.join(tmpdir(), "picoseg-remote-"));
    const real = path.join(tmp, "picoseg.wasm");
    await copyFile(defaultWasmPath(), real);
    // The decoy serves other bytes under the same path; the resource still carries the real sha256.
    const other = Buffer.concat([await import("node:fs/promises").then((fs) => fs.readFile(real)), Buffer.from([0])]);
    await writeFile(path.join(tmp, "other.wasm"), other);
    decoy = await startAdmin("127.0.0.1", decoyPort, {
      notReady: () => undefined,
      status: () => {
        throw new Error("not used");
      },
      registry: new Registry(),
      module: () => ({ bytes: other, sha256: "unused" }),
    });
    fx = await startFixture(
      { "db.yaml": segment("db", "db", listenPort) },
      { wasmPath: real, httpPort, remoteWasm: { cluster: HTTP_CLUSTER, baseUrl: `http://127.0.0.1:${decoyPort}` } },
    );
    // The cluster points at the decoy, so Envoy downloads the mismatching bytes.
    envoy = await sidecarFor(fx, listenPort, decoyPort);
    // Envoy 1.40 fetches remote code asynchronously: it ACKs the config, then the download
    // fails its sha256 check, the plugin fails to load and the listener fails closed. So a bad
    // module is NOT a NACK; the proof is in Envoy's log and in the traffic.
    await waitFor("the plugin load failure", () => (/Plugin picoseg failed to load/.test(envoy!.log()) ? true : undefined), 15_000);
    expect(envoy.log()).toMatch(/Retry limit exceeded for fetching data from remote data source/);
    expect(await roundTrip(listenPort)).toBe("denied");
    const r = fx.server.status().proxies[0]!.resources[0]!;
    expect(r.acked).toBe(r.current);
    expect(r.nack).toBeUndefined();
  }, 40_000);
});
