// The sniff deadline: a first message too short to decide (one byte, then the client waits for an
// answer) must not hold the connection forever. When the deadline passes, the tick decides the
// protocol on the bytes seen so far; admitted bytes go on, a protocol the rule does not list closes.
import { describe, expect, it } from "vitest";
import { hostWith, oneRule } from "./helpers.js";

const MYSQL_GREETING_START = Uint8Array.of(0x4a, 0, 0); // three bytes of a MySQL greeting header

describe("sniff deadline", () => {
  it("a held 'P' (could be POST or PRI) is decided unknown after the default 1 s and reaches the server", async () => {
    const host = await hostWith(oneRule("protocol unknown"));
    const c = host.connect();
    expect(c.fromClient("P")).toBe(1); // held: P may start an http1 method or the http2 preface
    host.advance(500);
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.closed).toBe(false);
    host.advance(1000);
    expect(Buffer.from(c.deliveredToServer).toString()).toBe("P");
    expect(c.closed).toBe(false);
    // Later bytes flow (the protocol is decided) and are counted once.
    expect(c.fromClient("ING")).toBe(0);
    expect(Buffer.from(c.deliveredToServer).toString()).toBe("PING");
  });

  it("closes with `protocol` when the bytes seen by the deadline are not a protocol the rule lists", async () => {
    const host = await hostWith(oneRule("protocol http1"));
    const c = host.connect();
    expect(c.fromClient("G")).toBe(1);
    host.advance(1500);
    expect(c.closed).toBe(true);
    expect(c.closeReason).toBe("protocol");
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("counts the released bytes in the budget", async () => {
    const host = await hostWith(oneRule("protocol unknown", "maxBytesIn 3"));
    const c = host.connect();
    c.fromClient("PO");
    host.advance(1500);
    expect(Buffer.from(c.deliveredToServer).toString()).toBe("PO");
    expect(c.fromClient("ST")).toBe(1); // 2 + 2 > 3: not forwarded
    expect(c.closed).toBe(true);
    expect(c.closeReason).toBe("bytes-in");
    expect(Buffer.from(c.deliveredToServer).toString()).toBe("PO");
  });

  it("follows the rule's sniffTimeoutMs", async () => {
    const host = await hostWith(oneRule("protocol unknown", "sniffTimeoutMs 3000"));
    const c = host.connect();
    c.fromClient("P");
    host.advance(2500);
    expect(c.deliveredToServer.length).toBe(0);
    host.advance(1000);
    expect(Buffer.from(c.deliveredToServer).toString()).toBe("P");
  });

  it("decides held server bytes too (server-first), releasing them when admitted", async () => {
    const host = await hostWith(oneRule("protocol unknown"));
    const c = host.connect({ port: 3306 });
    expect(c.fromServer(MYSQL_GREETING_START)).toBe(1);
    host.advance(1500);
    host.advance(0);
    expect([...c.deliveredToClient]).toEqual([...MYSQL_GREETING_START]);
    expect(c.closed).toBe(false);
  });

  it("a configuration with a malformed sniffTimeoutMs is rejected (no-config)", async () => {
    const host = await hostWith(oneRule("protocol unknown", "sniffTimeoutMs soon"));
    const c = host.connect();
    expect(c.closeReason).toBe("no-config");
  });
});
