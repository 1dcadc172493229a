// Identity: the peer certificate's SPIFFE URI SAN, with certificates generated at test time and
// downstream mTLS terminated by Envoy in front of the picoseg filter. One principal allowed, another
// (valid certificate, same CA) denied.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, generateMtls, segment, type MtlsMaterial,
} from "./harness/index.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";
const INTRUDER = "spiffe://cluster.local/ns/payments/sa/intruder";

describe("picoseg filter in Envoy: mTLS principals", () => {
  let env: FilterEnv;
  let certs: MtlsMaterial;

  beforeAll(async () => {
    certs = generateMtls([API, INTRUDER]);
    const tls = { certFile: certs.server.certFile, keyFile: certs.server.keyFile, caFile: certs.caFile };
    env = await FilterEnv.start([
      { name: "db", tls, config: () => compileSegments([segment("payments-db", { rules: [{ name: "api-to-db", from: { principals: [API] } }] })]) },
      {
        name: "ns",
        tls,
        config: () => compileSegments([segment("ns-wide", {
          rules: [{ name: "payments-ns", from: { principals: ["spiffe://cluster.local/ns/payments/*"] } }],
        })]),
      },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
    certs?.cleanup();
  });

  const tlsFor = (p: string) => ({ ...certs.clients.get(p)!, caPem: certs.caPem });

  it(`allows ${API}`, async () => {
    const before = await env.snapshot();
    const { client } = await expectAllowedEcho(env, "db", "SELECT 1;\n", before, { tls: tlsFor(API) });
    client.destroy();
  });

  it(`denies ${INTRUDER} with reason source and logs its principal`, async () => {
    const before = await env.snapshot();
    const sent = env.upstream("db").totalReceived();
    const c = await TcpClient.connect(env.port("db"), { tls: tlsFor(INTRUDER) });
    await c.write("SELECT * FROM cards;\n");
    const d = await expectDenied(env, c, "source", before);
    expect(d.principal).toBe(INTRUDER);
    expect(c.received().length).toBe(0);
    expect(env.upstream("db").totalReceived()).toBe(sent);
  });

  it("a prefix pattern admits every principal under it", async () => {
    const before = await env.snapshot();
    const { client } = await expectAllowedEcho(env, "ns", "hello\n", before, { tls: tlsFor(INTRUDER) });
    client.destroy();
  });

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
