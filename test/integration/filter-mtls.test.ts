// Identity: the peer certificate's SPIFFE URI SAN, with certificates generated at test time and
// downstream mTLS terminated by Envoy in front of the picoseg filter. One principal allowed, another
// (valid certificate, same CA) denied.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, generateMtls, mysqlGreeting, segment, sleep,
  STAYS_OPEN_MS, type MtlsMaterial,
} from "../../testkit/envoy/harness.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";
const INTRUDER = "spiffe://cluster.local/ns/payments/sa/intruder";

const mysqlRule = (): string =>
  compileSegments([segment("orders-db", { rules: [{ name: "api-to-mysql", from: { principals: [API] }, protocols: ["mysql"] }] })]);

describe("picoseg filter in Envoy: mTLS principals", () => {
  let env: FilterEnv;
  let certs: MtlsMaterial;

  beforeAll(async () => {
    certs = generateMtls([API, INTRUDER]);
    const tls = certs.listenerTls;
    env = await FilterEnv.start([
      { name: "db", tls, config: () => compileSegments([segment("payments-db", { rules: [{ name: "api-to-db", from: { principals: [API] } }] })]) },
      {
        name: "ns",
        tls,
        config: () => compileSegments([segment("ns-wide", {
          rules: [{ name: "payments-ns", from: { principals: ["spiffe://cluster.local/ns/payments/*"] } }],
        })]),
      },
      // A server-first upstream (MySQL greets on connect) behind a principal rule, with picoseg's
      // bootstrap (tcp_proxy connects upstream after the TLS handshake)…
      { name: "mysql", tls, upstream: { greeting: mysqlGreeting() }, config: () => mysqlRule() },
      // …and as Istio's inbound listener does it (tcp_proxy connects upstream at accept, so the
      // greeting arrives before the handshake has revealed the peer's principal).
      { name: "mysqlIstio", tls, upstreamConnect: "immediate", upstream: { greeting: mysqlGreeting() }, config: () => mysqlRule() },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
    certs?.cleanup();
  });

  const tlsFor = (p: string) => certs.clientTls(p);

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

  for (const listener of ["mysql", "mysqlIstio"]) {
    const how = listener === "mysql" ? "upstream connected after the handshake" : "Istio-style, upstream connected at accept";
    it(`server-first behind a principal rule (${how}): ${API} receives the MySQL greeting exactly`, async () => {
      const before = await env.snapshot();
      const greeting = mysqlGreeting();
      const c = await TcpClient.connect(env.port(listener), { tls: tlsFor(API) });
      expect((await c.waitForBytes(greeting.length, 3000)).equals(greeting)).toBe(true);
      await sleep(STAYS_OPEN_MS);
      expect(c.isOpen()).toBe(true);
      expect(c.received().equals(greeting)).toBe(true);
      await env.expectCounterDelta(before, "picoseg.allowed", 1);
      c.destroy();
    });

    it(`server-first behind a principal rule (${how}): ${INTRUDER}, silent, is denied and never sees the greeting`, async () => {
      const before = await env.snapshot();
      const c = await TcpClient.connect(env.port(listener), { tls: tlsFor(INTRUDER) });
      await c.waitForClose(6000);
      await env.expectCounterDelta(before, "picoseg.denied.source", 1);
      const d = await env.envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === "source", 3000, before.decisions);
      expect(d.principal).toBe(INTRUDER);
      // Not one byte of the server's greeting (its version string) may reach an unadmitted peer.
      expect(c.received().length).toBe(0);
    });
  }

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
