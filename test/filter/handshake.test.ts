// Envoy runs proxy_on_new_connection before the TLS handshake: the peer principal is unknown
// there. Admission by principal waits for the first client bytes (always after the handshake).
import { describe, expect, it } from "vitest";
import { bytes, config, hostWith } from "./helpers.js";

const API = "spiffe://cluster.local/ns/payments/sa/api";
const mtlsRule = config("segment ns/db enforce", "rule api", `principal ${API}`, "ip 10.0.0.0/8", "port 5432 5432", "maxBytesOut 100");

describe("admission waits for the handshake when a rule needs the principal", () => {
  it("the allowed principal is admitted at its first bytes, and those bytes flow", async () => {
    const host = await hostWith(mtlsRule);
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.allowed")).toBe(0); // not decided yet
    expect(c.fromClient("hello")).toBe(0);
    expect(c.deliveredToServer.length).toBe(5);
    expect(host.counter("picoseg.allowed")).toBe(1);
  });

  it("another principal is denied at its first bytes, which never reach the server", async () => {
    const host = await hostWith(mtlsRule);
    const c = host.connect({ principal: "spiffe://cluster.local/ns/other/sa/x", handshake: "pending" });
    expect(c.fromClient("hello")).toBe(1);
    expect(c.closeReason).toBe("source");
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.decisions()[0]!.principal).toBe("spiffe://cluster.local/ns/other/sa/x");
  });

  it("a TLS client without a certificate is denied at its first bytes", async () => {
    const host = await hostWith(mtlsRule);
    const c = host.connect({ tls: true, handshake: "pending" });
    c.fromClient("x");
    expect(c.closeReason).toBe("source");
  });

  it("a source no rule admits whatever its principal is denied at once", async () => {
    const host = await hostWith(mtlsRule);
    const c = host.connect({ source: "192.168.0.1:1", principal: API, handshake: "pending" });
    expect(c.closeReason).toBe("source");
  });

  it("the tick decides once the handshake revealed the principal, even if the client stays silent", async () => {
    const host = await hostWith(mtlsRule);
    const bad = host.connect({ principal: "spiffe://x/y", handshake: "pending" });
    bad.completeHandshake();
    host.advance(500);
    expect(bad.closeReason).toBe("source");
  });

  it("a TLS connection whose principal never shows is judged without one after 5 s", async () => {
    const host = await hostWith(mtlsRule);
    const c = host.connect({ tls: true, handshake: "pending" });
    host.advance(4500);
    expect(c.closed).toBe(false);
    host.advance(1000);
    expect(c.closeReason).toBe("source");
  });

  it("a server-first greeting flows before the handshake completes and counts once admitted", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", `principal ${API}`, "protocol mysql", "maxBytesOut 100"));
    const c = host.connect({ principal: API, handshake: "pending" });
    const greeting = Uint8Array.of(0x0a, 0, 0, 0, 0x0a, 0x38, 0x2e, 0x30, 0, 1, 2, 3, 4, 5);
    expect(c.fromServer(greeting)).toBe(0);
    expect(c.deliveredToClient.length).toBe(greeting.length);
    expect(c.fromClient("login")).toBe(0);
    expect(c.closed).toBe(false);
    expect(c.fromServer(bytes(100 - greeting.length))).toBe(0); // exactly 100 out
    expect(c.fromServer(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("bytes-out");
  });

  it("a server greeting of the wrong protocol is caught when admission is decided", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", `principal ${API}`, "protocol postgres"));
    const c = host.connect({ principal: API, handshake: "pending" });
    c.fromServer("220 smtp ready\r\n");
    c.fromClient("EHLO x\r\n");
    expect(c.closeReason).toBe("protocol");
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("without principal rules, admission is decided at connect even on TLS", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule net", "ip 10.9.0.0/16"));
    const c = host.connect({ tls: true, handshake: "pending" });
    expect(c.closeReason).toBe("source");
  });

  it("plaintext connections never wait", async () => {
    const host = await hostWith(mtlsRule);
    const c = host.connect({ tls: false });
    expect(c.closeReason).toBe("source");
  });
});
