// Protocols: decided on the first bytes of whichever direction speaks first; nothing forwarded until then.
import { describe, expect, it } from "vitest";
import { bytes, hostWith, oneRule, PG_SSL_REQUEST } from "./helpers.js";

const ALL = ["tls", "http1", "http2", "ssh", "postgres", "mysql", "redis", "mongodb", "unknown"];

/** A rule that admits only `proto`; everything else is a `protocol` denial. */
async function only(proto: string) {
  return hostWith(oneRule(`protocol ${proto}`));
}

const mongoHeader = (() => {
  const b = new Uint8Array(21);
  const v = new DataView(b.buffer);
  v.setInt32(0, 21, true); // messageLength
  v.setInt32(4, 7, true); // requestID
  v.setInt32(8, 0, true); // responseTo
  v.setInt32(12, 2013, true); // OP_MSG
  return b;
})();

const clientFirst: [string, Uint8Array | string][] = [
  ["tls", Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03, 0x11, 0x22)],
  ["http1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
  ["http2", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
  ["ssh", "SSH-2.0-OpenSSH_9.6\r\n"],
  ["postgres", PG_SSL_REQUEST],
  ["redis", "*1\r\n$4\r\nPING\r\n"],
  ["mongodb", mongoHeader],
];

describe("protocol sniffing", () => {
  it.each(clientFirst)("recognises %s from the client's first bytes", async (proto, first) => {
    const host = await only(proto);
    const c = host.connect();
    expect(c.fromClient(first)).toBe(0);
    expect(c.closed).toBe(false);
    expect(c.deliveredToServer.length).toBeGreaterThan(0);
    for (const other of ALL.filter((p) => p !== proto)) {
      const h2 = await only(other);
      const d = h2.connect();
      d.fromClient(first, { end: true });
      expect(d.closeReason, `${proto} bytes under protocol ${other}`).toBe("protocol");
      expect(d.deliveredToServer.length).toBe(0);
    }
  });

  it("recognises a postgres StartupMessage (protocol 3.0)", async () => {
    const host = await only("postgres");
    const m = new Uint8Array(41);
    const v = new DataView(m.buffer);
    v.setInt32(0, 41, false);
    v.setInt32(4, 196608, false);
    expect(host.connect().fromClient(m)).toBe(0);
  });

  it("mysql speaks first: the server greeting decides, and the client's bytes are not sniffed", async () => {
    const host = await only("mysql");
    const c = host.connect({ port: 3306 });
    const greeting = Uint8Array.of(0x4a, 0, 0, 0, 0x0a, ...new TextEncoder().encode("8.0.36\0"), ...bytes(20, 1));
    expect(c.fromServer(greeting)).toBe(0);
    expect(c.deliveredToClient.length).toBe(greeting.length);
    expect(c.fromClient(bytes(40, 0x20))).toBe(0); // a login request: no sniffing of the second speaker
    expect(c.closed).toBe(false);
  });

  it("a server greeting that is not mysql is denied under protocol mysql", async () => {
    const host = await only("mysql");
    const c = host.connect();
    c.fromServer("220 smtp.example.com ESMTP\r\n");
    expect(c.closeReason).toBe("protocol");
    expect(c.deliveredToClient.length).toBe(0);
  });

  it("an ssh server banner that speaks first is ssh", async () => {
    const host = await only("ssh");
    const c = host.connect();
    expect(c.fromServer("SSH-2.0-OpenSSH\r\n")).toBe(0);
  });

  it("bytes matching no protocol are `unknown`, which a rule may list", async () => {
    const host = await only("unknown");
    const c = host.connect();
    expect(c.fromClient("hello there\n")).toBe(0);
    expect(c.closed).toBe(false);
    const h2 = await only("http1");
    const d = h2.connect();
    d.fromClient("hello there\n");
    expect(d.closeReason).toBe("protocol");
    expect(d.decisions()[0]!.protocol).toBe("unknown");
  });

  it("holds undecided bytes (StopIteration) and counts them once when the rest arrives", async () => {
    const host = await hostWith(oneRule("protocol http1", "maxBytesIn 20"));
    const c = host.connect();
    expect(c.fromClient("GE")).toBe(1); // could still be GET
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.fromClient("T / HTTP/1.1\r\n")).toBe(0);
    expect(new TextDecoder().decode(c.deliveredToServer)).toBe("GET / HTTP/1.1\r\n");
    expect(c.fromClient("abcd")).toBe(0); // 16 + 4 = 20: exactly the budget, held bytes not counted twice
    expect(c.closed).toBe(false);
  });

  it("holds byte after byte while a prefix is ambiguous, then forwards everything held at once", async () => {
    const host = await only("unknown");
    const c = host.connect();
    for (const ch of "PRI * HTTP/2.0") expect(c.fromClient(ch)).toBe(1); // still an HTTP/2 preface
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.fromClient("X")).toBe(0); // not a preface after all: unknown
    expect(new TextDecoder().decode(c.deliveredToServer)).toBe("PRI * HTTP/2.0X");
  });

  it("undecided at end of stream means unknown", async () => {
    const host = await only("postgres");
    const c = host.connect();
    expect(c.fromClient(Uint8Array.of(0, 0))).toBe(1);
    c.fromClient(new Uint8Array(0), { end: true });
    expect(c.closeReason).toBe("protocol");
    expect(c.decisions()[0]!.protocol).toBe("unknown");
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("a rule without protocols never holds bytes", async () => {
    const host = await hostWith(oneRule());
    const c = host.connect();
    expect(c.fromClient("G")).toBe(0);
    expect(host.bytesRead).toBe(0);
  });

  it("sniffing reads at most the first 64 bytes", async () => {
    const host = await only("unknown");
    const c = host.connect();
    c.fromClient(bytes(100_000, 0x7a));
    expect(c.closed).toBe(false);
    expect(host.bytesRead).toBeLessThanOrEqual(64);
  });
});

describe("first speaker", () => {
  it("an empty read from the client does not make it the first speaker: the mysql greeting still decides", async () => {
    const host = await hostWith(oneRule("protocol mysql"));
    const c = host.connect();
    expect(c.fromClient(new Uint8Array(0))).toBe(0);
    const greeting = Uint8Array.of(0x0a, 0, 0, 0, 0x0a, 0x38, 0x2e, 0x30, 0, 1, 2, 3, 4, 5);
    expect(c.fromServer(greeting)).toBe(0);
    expect(c.closed).toBe(false);
  });

  it("while the first speaker is undecided, the other direction flows", async () => {
    const host = await hostWith(oneRule("protocol http1"));
    const c = host.connect();
    expect(c.fromClient("GE")).toBe(1);
    expect(c.fromServer("hello")).toBe(0);
    expect(c.deliveredToClient.length).toBe(5);
    expect(c.fromClient("T / HTTP/1.1\r\n")).toBe(0);
  });
});

describe("protocol before budgets and framing", () => {
  const pgRule = oneRule("protocol postgres", "maxMessageBytes 1048576", "framing lengthPrefixed 1 4 big -4", "maxBytesIn 1000");

  it("an HTTP request to a postgres rule with lengthPrefixed framing is denied for its protocol, not its 'length'", async () => {
    const host = await hostWith(pgRule);
    const c = host.connect();
    // Read as a Postgres frame, "ET /" is a length of 1.2 GB: the protocol must decide first.
    c.fromClient("GET / HTTP/1.1\r\nHost: db\r\n\r\n");
    expect(c.closeReason).toBe("protocol");
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("bytes held while the protocol was undecided count towards the budget once it is decided", async () => {
    const host = await hostWith(oneRule("protocol http1", "maxBytesIn 20"));
    const c = host.connect();
    expect(c.fromClient("GE")).toBe(1); // undecided: held, not yet counted
    expect(c.fromClient("T / HTTP/1.1\r\nHost: x\r\n")).toBe(1); // 26 bytes in all: over 20
    expect(c.closeReason).toBe("bytes-in");
    expect(c.deliveredToServer.length).toBe(0);
  });
});
