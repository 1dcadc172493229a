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

  it("a server greeting of the wrong protocol is caught when admission is decided", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", `principal ${API}`, "protocol postgres"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer("220 smtp ready\r\n")).toBe(1);
    expect(c.fromClient("EHLO x\r\n")).toBe(1);
    expect(c.closeReason).toBe("protocol");
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.deliveredToClient.length).toBe(0);
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

// Istio's inbound tcp_proxy connects upstream at accept, so a server-first upstream (MySQL) greets
// before the handshake has revealed the peer. The filter holds those bytes (StopIteration, nothing
// counted) until admission is decided. Envoy 1.40 cannot resume a network filter's held write
// direction with proxy_continue_stream(upstream) (Unimplemented), so after admission the filter has
// Envoy dispatch the held read buffer again by toggling its watermarks (push it past
// per_connection_buffer_limit_bytes, drain it back: reading resumes with bytes buffered); the
// emulator models that as Envoy behaves (testkit/filter-host/host.ts header), checked in the real Envoy by
// test/integration/filter-mtls.test.ts (Istio-style listener) and the hold-release probe.
describe("server bytes while admission waits for the handshake", () => {
  const MYSQL_GREETING = Uint8Array.of(0x0a, 0, 0, 0, 0x0a, 0x38, 0x2e, 0x30, 0, 1, 2, 3, 4, 5);
  const mysqlRule = (...limits: string[]) =>
    config("segment ns/db enforce", "rule api", `principal ${API}`, "protocol mysql", ...limits);

  it("server bytes wait for the handshake's principal: held, not counted, no decision yet", async () => {
    const host = await hostWith(mysqlRule("maxBytesOut 100"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    expect(c.fromServer(bytes(10))).toBe(1); // more of them: still held
    expect(c.deliveredToClient.length).toBe(0);
    expect(c.heldFromServer.length).toBe(MYSQL_GREETING.length + 10);
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.allowed")).toBe(0);
    expect(c.decisions()).toEqual([]);
  });

  it("the held greeting reaches an admitted principal at the next tick, exactly, and the session goes on", async () => {
    const host = await hostWith(mysqlRule("maxBytesOut 100"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake(); // the client waits for the greeting: it sends nothing
    host.advance(500);
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.allowed")).toBe(1);
    expect(c.deliveredToClient).toEqual(MYSQL_GREETING); // not one filler byte of the release
    expect(c.heldFromServer.length).toBe(0);
    expect(c.fromClient("login")).toBe(0);
    expect(c.deliveredToServer).toEqual(new TextEncoder().encode("login"));
    // The greeting counted once towards maxBytesOut: 100 - 14 more pass, one more does not.
    expect(c.fromServer(bytes(100 - MYSQL_GREETING.length))).toBe(0);
    expect(c.fromServer(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("bytes-out");
    expect(c.deliveredToClient.length).toBe(100);
  });

  it("decided at the client's first bytes, the held server bytes are released at the event loop's next turn", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", `principal ${API}`));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer("server speaks first\n")).toBe(1);
    expect(c.fromClient("client too\n")).toBe(0);
    expect(c.deliveredToClient.length).toBe(0);
    host.advance(0); // no tick: Envoy dispatches the re-enabled read buffer
    expect(new TextDecoder().decode(c.deliveredToClient)).toBe("server speaks first\n");
    expect(new TextDecoder().decode(c.deliveredToServer)).toBe("client too\n");
  });

  it("a denied principal never sees the greeting: decided at the tick, closed with it held", async () => {
    const host = await hostWith(mysqlRule());
    const c = host.connect({ principal: "spiffe://cluster.local/ns/payments/sa/intruder", handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake();
    host.advance(500);
    expect(c.closeReason).toBe("source");
    expect(c.deliveredToClient.length).toBe(0);
    expect(c.decisions()[0]!.bytesOut).toBe(0);
  });

  it("a peer that never completes the handshake never sees the greeting: denied after 5 s", async () => {
    const host = await hostWith(mysqlRule());
    const c = host.connect({ tls: true, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    host.advance(4500);
    expect(c.closed).toBe(false);
    expect(c.deliveredToClient.length).toBe(0);
    host.advance(1000);
    expect(c.closeReason).toBe("source");
    expect(c.deliveredToClient.length).toBe(0);
  });

  it("held server bytes count towards maxBytesOut: past it, the admitted client receives none of them", async () => {
    const host = await hostWith(mysqlRule("maxBytesOut 100"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    expect(c.fromServer(bytes(101 - MYSQL_GREETING.length))).toBe(1); // 101 held
    c.completeHandshake();
    host.advance(500);
    expect(c.closeReason).toBe("bytes-out");
    expect(c.deliveredToClient.length).toBe(0);
    expect(c.decisions().at(-1)!.bytesOut).toBe(101);
  });

  it("held server bytes count towards maxBytesOut: exactly the budget passes", async () => {
    const host = await hostWith(mysqlRule("maxBytesOut 100"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    expect(c.fromServer(bytes(100 - MYSQL_GREETING.length))).toBe(1);
    c.completeHandshake();
    host.advance(500);
    expect(c.closed).toBe(false);
    expect(c.deliveredToClient.length).toBe(100);
    expect(c.fromServer(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("bytes-out");
  });

  it("held server bytes are framed like any others once released", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", `principal ${API}`, "maxMessageBytes 8", "framing delimited 0a"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer("hello\nfar too long\n")).toBe(1);
    c.completeHandshake();
    host.advance(500);
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToClient.length).toBe(0);
  });

  it("held server bytes count towards perSource maxBytes once released", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", `principal ${API}`, "perSource 60 20 - -"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(bytes(15))).toBe(1);
    c.completeHandshake();
    host.advance(500);
    expect(c.deliveredToClient.length).toBe(15);
    expect(c.fromClient(bytes(5))).toBe(0); // 20 in all
    expect(c.fromClient(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("source-bytes");
  });

  it("in an audit segment, a principal that would be denied still gets the held greeting, and the would-deny is logged", async () => {
    const host = await hostWith(config("segment ns/db audit", "rule api", `principal ${API}`, "protocol mysql"));
    const c = host.connect({ principal: "spiffe://cluster.local/ns/payments/sa/intruder", handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake();
    host.advance(500);
    expect(c.closed).toBe(false);
    expect(c.deliveredToClient).toEqual(MYSQL_GREETING);
    expect(host.counter("picoseg.audit.source")).toBe(1);
  });

  it("a larger read buffer limit: the next ticks push the watermark four times further", async () => {
    const host = await hostWith(mysqlRule(), { bufferLimitBytes: 3 * 1024 * 1024 });
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake();
    host.advance(500); // admitted; 1 MiB + 1 does not pass a 3 MiB watermark
    expect(host.counter("picoseg.allowed")).toBe(1);
    expect(c.deliveredToClient.length).toBe(0);
    expect(c.heldFromServer).toEqual(MYSQL_GREETING); // the filler was drained again
    host.advance(500); // 4 MiB + 1 does
    expect(c.deliveredToClient).toEqual(MYSQL_GREETING);
    expect(c.closed).toBe(false);
  });

  it("a host whose read buffers have no watermarks: the held bytes wait for more server bytes, still judged", async () => {
    const host = await hostWith(mysqlRule("maxBytesOut 100"), { bufferLimitBytes: 0 });
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake();
    host.advance(5000);
    expect(c.closed).toBe(false);
    expect(c.deliveredToClient.length).toBe(0);
    expect(c.heldFromServer).toEqual(MYSQL_GREETING);
    expect(c.fromServer(bytes(1))).toBe(0); // the host delivers the whole buffer again: counted once
    expect(c.deliveredToClient.length).toBe(MYSQL_GREETING.length + 1);
    expect(c.fromServer(bytes(100 - MYSQL_GREETING.length - 1))).toBe(0);
    expect(c.fromServer(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("bytes-out");
  });

  it("a host that refuses buffer writes keeps the held bytes held: nothing passes unjudged", async () => {
    const host = await hostWith(mysqlRule("maxBytesOut 20"));
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake();
    host.failing.add("proxy_set_buffer_bytes");
    host.advance(2000);
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.allowed")).toBe(1);
    expect(c.deliveredToClient.length).toBe(0);
    expect(c.heldFromServer).toEqual(MYSQL_GREETING);
    expect(c.fromServer(bytes(7))).toBe(1); // 21 > 20: the greeting counted with them
    expect(c.closeReason).toBe("bytes-out");
    expect(c.deliveredToClient.length).toBe(0);
  });

  it("a host that takes the filler but will not drain it: the stream is corrupted, so the connection is closed", async () => {
    const host = await hostWith(mysqlRule());
    const c = host.connect({ principal: API, handshake: "pending" });
    expect(c.fromServer(MYSQL_GREETING)).toBe(1);
    c.completeHandshake();
    host.failingAfter.set("proxy_set_buffer_bytes", 16); // 16 x 64 KiB of filler, then every call fails
    host.advance(500);
    expect(c.closed).toBe(true);
    expect(c.closedBy).toBe("filter");
    expect(c.deliveredToClient.length).toBe(0);
    expect(host.logs("error").some((l) => l.includes("refused to restore a held server buffer"))).toBe(true);
  });
});
