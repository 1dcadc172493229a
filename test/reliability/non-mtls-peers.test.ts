// Peers that do not present what an mTLS listener asks for, against a rule that admits one
// principal: plaintext, TLS without a client certificate, and a certificate claiming the admitted
// SPIFFE ID but issued by another CA. None of them reaches the upstream, and picoseg never admits
// one (Envoy refuses the handshake before the filter sees data).
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, TcpClient, compileSegments, generateMtls, segment, sleep, type MtlsMaterial } from "../../testkit/envoy/harness.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";

describe("non-mTLS peers on an mTLS listener", () => {
  let env: FilterEnv;
  let certs: MtlsMaterial;
  let foreign: MtlsMaterial;

  beforeAll(async () => {
    certs = generateMtls([API]);
    foreign = generateMtls([API]); // same principal, another CA
    env = await FilterEnv.start([
      { name: "db", tls: certs.listenerTls, config: () => compileSegments([segment("db", { rules: [{ name: "api", from: { principals: [API] } }] })]) },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
    certs?.cleanup();
    foreign?.cleanup();
  });

  /** A TLS handshake with the given client credentials (or none); resolves with how it ended. */
  function handshake(cred: { cert?: string; key?: string }): Promise<"established" | "refused"> {
    return new Promise((resolve) => {
      const s = tlsConnect({ host: "127.0.0.1", port: env.port("db"), ca: certs.caPem, servername: "localhost", ...cred });
      s.once("secureConnect", () => {
        // TLS 1.3: the server checks the client certificate after the client's Finished; write and
        // see whether the connection survives.
        s.write("SELECT * FROM cards;\n");
        setTimeout(() => { resolve(s.destroyed || !s.writable ? "refused" : "established"); s.destroy(); }, 500);
      });
      s.once("error", () => resolve("refused"));
      s.once("close", () => resolve("refused"));
    });
  }

  it("the admitted principal itself gets through (the listener works)", async () => {
    const c = await TcpClient.connect(env.port("db"), { tls: certs.clientTls(API) });
    await c.write("ping\n");
    expect((await c.waitForBytes(5, 3000)).toString()).toBe("ping\n");
    c.destroy();
  });

  it("plaintext bytes on the mTLS port: closed, nothing reaches the upstream", async () => {
    const sent = env.upstream("db").totalReceived();
    const c = await TcpClient.connect(env.port("db"));
    await c.write("SELECT * FROM cards;\n");
    await c.waitForClose(3000);
    expect(c.received().toString()).not.toContain("SELECT");
    await sleep(200);
    expect(env.upstream("db").totalReceived()).toBe(sent);
  });

  it("TLS without a client certificate: refused, nothing reaches the upstream", async () => {
    const sent = env.upstream("db").totalReceived();
    expect(await handshake({})).toBe("refused");
    await sleep(200);
    expect(env.upstream("db").totalReceived()).toBe(sent);
  });

  it("the admitted SPIFFE ID from another CA: refused, nothing reaches the upstream", async () => {
    const sent = env.upstream("db").totalReceived();
    const impostor = foreign.clientTls(API);
    expect(await handshake({ cert: impostor.certPem, key: impostor.keyPem })).toBe("refused");
    await sleep(200);
    expect(env.upstream("db").totalReceived()).toBe(sent);
    expect(await env.envoy.counter("picoseg.allowed")).toBe(1); // only the first test's connection
  });
});
