// A real Envoy sidecar over mTLS to the real xDS server (`serve --tls-cert --tls-key --client-ca`,
// `sidecar --xds-ca --xds-cert --xds-key`): its certificate's SPIFFE ID names its namespace and
// service account, and it receives config only for those. A sidecar presenting another identity
// for the same metadata is refused and never configured (its listener fails closed).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateMtls, type MtlsMaterial } from "../../xds-server/src/demo/pki.js";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { XdsSidecar, freePorts, stopAllEnvoys } from "../../testkit/envoy/harness.js";
import { roundTrip } from "../../testkit/envoy/round-trip.js";
import { eventually } from "../../testkit/xds/fake-envoy.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

const DB = "spiffe://cluster.local/ns/shop/sa/db";
const STRANGER = "spiffe://cluster.local/ns/analytics/sa/etl";

let pki: MtlsMaterial;
let fx: Fixture | undefined;
const sidecars: XdsSidecar[] = [];
beforeAll(() => {
  pki = generateMtls([DB, STRANGER]);
});
afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.stop();
  await fx?.close();
  fx = undefined;
});
afterAll(async () => {
  await stopAllEnvoys();
  pki.cleanup();
});

const xdsTls = (principal: string) => ({ caFile: pki.caFile, certFile: pki.clients.get(principal)!.certFile, keyFile: pki.clients.get(principal)!.keyFile });

/**
 * The server over mTLS with a segment for shop/db on a fresh port, and a sidecar whose node says
 * it is shop/db (service account db), connecting with `principal`'s certificate.
 */
async function serverAndSidecar(principal: string, extra: { initialFetchTimeoutSeconds?: number } = {}): Promise<{ listenPort: number }> {
  const [listenPort] = (await freePorts(1)) as [number];
  fx = await startFixture(
    { "db.yaml": segment("db", "db", listenPort) },
    { wasmPath: defaultWasmPath(), tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile } },
  );
  sidecars.push(await XdsSidecar.start({
    xdsPort: fx.server.xdsPort,
    listenPort,
    xdsTls: xdsTls(principal),
    ...extra,
    node: { id: "db-1", cluster: "db.shop", namespace: "shop", serviceAccount: "db", labels: { app: "db" } },
  }));
  return { listenPort };
}

describe("Envoy over mTLS xDS, bound to its SPIFFE ID", () => {
  it("configures the sidecar whose certificate matches its namespace and service account", async () => {
    const { listenPort } = await serverAndSidecar(DB);
    expect(await roundTrip(listenPort)).toBe("allowed");
    const p = fx!.server.status().proxies[0]!;
    expect(p.streams[0]!.identity).toBe(DB);
    expect(p.resources[0]!.acked).toBe(p.resources[0]!.current);
  });

  it("refuses a sidecar presenting another identity for that workload; it stays unconfigured and denies", async () => {
    const { listenPort } = await serverAndSidecar(STRANGER, { initialFetchTimeoutSeconds: 1 });
    await eventually(() => fx!.server.status().refusedStreams.length > 0, 10_000, "the refusal");
    const r = fx!.server.status().refusedStreams[0]!;
    expect(r).toMatchObject({ reason: "identity-mismatch", identity: STRANGER, nodeId: "db-1" });
    expect(fx!.server.status().proxies).toEqual([]);
    expect(await roundTrip(listenPort)).toBe("denied");
  });
});
