// maxMessageBytes under chunk, lengthPrefixed and delimited framing.
import { describe, expect, it } from "vitest";
import { bytes, hostWith, oneRule, pgMessage } from "./helpers.js";

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

describe("framing chunk", () => {
  it("a read of exactly maxMessageBytes passes; one byte more is message-size", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 100", "framing chunk"));
    const c = host.connect();
    expect(c.fromClient(bytes(100))).toBe(0);
    expect(c.fromClient(bytes(101))).toBe(1);
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToServer.length).toBe(100);
    expect(host.counter("picoseg.denied.message-size")).toBe(1);
  });

  it("chunk is the default framing and applies to the server side too", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 10"));
    const c = host.connect();
    c.fromServer(bytes(11));
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToClient.length).toBe(0);
  });
});

describe("framing lengthPrefixed (Postgres style: offset 1, width 4, big, adjustment -4)", () => {
  const rule = oneRule("maxMessageBytes 100", "framing lengthPrefixed 1 4 big -4");

  it("a 100-byte message passes when the limit is 100", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    expect(c.fromClient(pgMessage(95))).toBe(0); // 1 + 4 + 95 = 100
    expect(c.closed).toBe(false);
  });

  it("a 101-byte message is cut when the limit is 100, as soon as its header is read", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    c.fromClient(pgMessage(96).subarray(0, 5)); // just the header
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("several messages in one read, the last one too big", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    const ok = cat(pgMessage(10), pgMessage(95), pgMessage(0));
    expect(c.fromClient(ok)).toBe(0);
    expect(c.fromClient(cat(pgMessage(1), pgMessage(96)))).toBe(1);
    expect(c.deliveredToServer.length).toBe(ok.length);
  });

  it("a length field split over two reads is reassembled", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    const big = pgMessage(96);
    expect(c.fromClient(big.subarray(0, 3))).toBe(0); // type byte and half the length
    expect(c.closed).toBe(false);
    c.fromClient(big.subarray(3, 5));
    expect(c.closeReason).toBe("message-size");
  });

  it("messages split at every byte boundary are framed the same", async () => {
    const stream = cat(pgMessage(20), pgMessage(0), pgMessage(95), pgMessage(3));
    for (let cut = 1; cut < stream.length; cut += 7) {
      const host = await hostWith(rule);
      const c = host.connect();
      c.fromClient(stream.subarray(0, cut));
      c.fromClient(stream.subarray(cut));
      expect(c.closed, `cut at ${cut}`).toBe(false);
      expect(c.deliveredToServer.length).toBe(stream.length);
    }
    const host = await hostWith(rule);
    const c = host.connect();
    for (const b of cat(stream, pgMessage(96))) c.fromClient(Uint8Array.of(b));
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToServer.length).toBe(stream.length + 4); // the too-big header's 5th byte was never forwarded
  });

  it("zero-length frames are messages of header size", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 4", "framing lengthPrefixed 0 4 big 0"));
    const c = host.connect();
    const zero = new Uint8Array(4);
    expect(c.fromClient(cat(zero, zero, zero))).toBe(0);
    const one = Uint8Array.of(0, 0, 0, 1, 0x41);
    c.fromClient(one);
    expect(c.closeReason).toBe("message-size");
  });

  it("a length that cannot frame a message (smaller than its header) is message-size", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    c.fromClient(Uint8Array.of(0x51, 0, 0, 0, 2)); // 1 + 4 + 2 - 4 = 3 < 5
    expect(c.closeReason).toBe("message-size");
  });

  it("little-endian 2-byte lengths at offset 0", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 10", "framing lengthPrefixed 0 2 little 0"));
    const c = host.connect();
    expect(c.fromClient(Uint8Array.of(8, 0, ...bytes(8)))).toBe(0); // 10 bytes
    c.fromClient(Uint8Array.of(9, 0));
    expect(c.closeReason).toBe("message-size");
  });

  it("8-byte length fields with huge values are cut, not wrapped", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 1000", "framing lengthPrefixed 0 8 big 0"));
    const c = host.connect();
    c.fromClient(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0));
    expect(c.closeReason).toBe("message-size");
  });

  it("the server direction is framed independently", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    c.fromClient(pgMessage(10).subarray(0, 3));
    expect(c.fromServer(pgMessage(95))).toBe(0);
    c.fromServer(pgMessage(96));
    expect(c.closeReason).toBe("message-size");
  });

  it("a large transfer reads only the length-field bytes", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 1048576", "framing lengthPrefixed 1 4 big -4"));
    const c = host.connect();
    const msg = pgMessage(1_000_000);
    // 8 messages of ~1 MB, delivered in 64 KiB reads
    for (let m = 0; m < 8; m++) {
      for (let o = 0; o < msg.length; o += 65536) c.fromClient(msg.subarray(o, Math.min(msg.length, o + 65536)));
    }
    expect(c.closed).toBe(false);
    expect(c.deliveredToServer.length).toBe(8 * msg.length);
    expect(host.bytesRead).toBe(8 * 4);
  });
});

describe("framing delimited", () => {
  it("a line of exactly maxMessageBytes including its delimiter passes; one more byte is message-size", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 10", "framing delimited 0a"));
    const c = host.connect();
    expect(c.fromClient("123456789\n")).toBe(0);
    expect(c.fromClient("1234567890\n")).toBe(1);
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToServer.length).toBe(10);
  });

  it("a line longer than the limit is cut before its delimiter arrives", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 10", "framing delimited 0a"));
    const c = host.connect();
    expect(c.fromClient("12345")).toBe(0);
    expect(c.fromClient("678901")).toBe(1);
    expect(c.closeReason).toBe("message-size");
  });

  it("a two-byte delimiter split across reads ends the message", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 6", "framing delimited 0d0a"));
    const c = host.connect();
    expect(c.fromClient("abcd\r")).toBe(0);
    expect(c.fromClient("\nabcd\r\n")).toBe(0);
    expect(c.fromClient("\r\n\r\n")).toBe(0); // empty lines
    expect(c.closed).toBe(false);
    c.fromClient("abcde\r\n");
    expect(c.closeReason).toBe("message-size");
  });

  it("a delimiter never spans two messages", async () => {
    const host = await hostWith(oneRule("maxMessageBytes 3", "framing delimited 0a0a"));
    const c = host.connect();
    expect(c.fromClient("a\n\n")).toBe(0); // message "a\n\n"
    c.fromClient("\nab\n");
    // "\nab\n" is 4 bytes with no "\n\n" inside it: too big
    expect(c.closeReason).toBe("message-size");
  });
});
