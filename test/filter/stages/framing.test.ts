// framing.ts on its own: message boundaries over byte views in plain memory, no host.
// Each read is fed as the host would hand it over: the whole buffer, of which [held, size) is new.
import { beforeAll, describe, expect, it } from "vitest";
import { Stages } from "./stages-wasm.js";

const POSTGRES = 0; // lengthPrefixed 1 4 big -4, max 100
const LITTLE2 = 1;  // lengthPrefixed 0 2 little 0, max 100
const WIDE8 = 2;    // lengthPrefixed 0 8 big 0, max 1000
const SHRINK = 3;   // lengthPrefixed 0 1 big -5, max 100
const CRLF = 4;     // delimited 0d0a, max 10
const CHUNK = 5;    // chunk, max 100

let s: Stages;

beforeAll(async () => {
  s = await Stages.load();
  s.config([
    "segment ns/framing enforce",
    "rule postgres", "maxMessageBytes 100", "framing lengthPrefixed 1 4 big -4",
    "rule little2", "maxMessageBytes 100", "framing lengthPrefixed 0 2 little 0",
    "rule wide8", "maxMessageBytes 1000", "framing lengthPrefixed 0 8 big 0",
    "rule shrink", "maxMessageBytes 100", "framing lengthPrefixed 0 1 big -5",
    "rule crlf", "maxMessageBytes 10", "framing delimited 0d0a",
    "rule chunk", "maxMessageBytes 100", "framing chunk",
  ]);
}, 240_000);

/** A Postgres-style message: type byte, then a 32-bit big-endian length counting itself, then the body. */
function pgMessage(total: number): Uint8Array {
  const m = new Uint8Array(total).fill(0x61);
  m[0] = 0x51;
  new DataView(m.buffer).setUint32(1, total - 1);
  return m;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Feeds `reads` one after the other (each a fresh buffer); the verdict of each read. */
function feed(rule: number, ...reads: Uint8Array[]): boolean[] {
  s.x.frameReset();
  return reads.map((r) => s.x.frameFeed(rule, s.put(r), r.length, 0, r.length) === 1);
}

function asked(): { fills: number; bytes: bigint } {
  return { fills: s.x.fillCount(), bytes: s.x.bytesAskedCount() };
}

describe("lengthPrefixed framing", () => {
  it("a Postgres message of exactly maxMessageBytes (100) passes, a 101-byte one is refused", () => {
    expect(feed(POSTGRES, pgMessage(100))).toEqual([true]);
    expect(s.x.framePos()).toBe(0n); // the message ended with the read
    expect(feed(POSTGRES, pgMessage(101))).toEqual([false]);
  });

  it("reads only the length field's 4 bytes of a 100-byte message", () => {
    asked();
    feed(POSTGRES, pgMessage(100));
    expect(asked()).toEqual({ fills: 1, bytes: 4n });
  });

  it("judges a header split across two reads at every point the same as an unsplit one", () => {
    for (const total of [100, 101]) {
      const m = pgMessage(total);
      for (let cut = 1; cut < 5; cut++) {
        const verdicts = feed(POSTGRES, m.subarray(0, cut), m.subarray(cut));
        expect(verdicts, `cut at ${cut}, ${total} bytes`).toEqual([true, total <= 100]);
      }
    }
  });

  it("judges a header split one byte per read", () => {
    const m = pgMessage(101);
    const verdicts = feed(POSTGRES, ...Array.from(m.subarray(0, 5), (b) => Uint8Array.of(b)));
    expect(verdicts).toEqual([true, true, true, true, false]); // refused at the last length byte
  });

  it("finds every header of several messages in one read, reading 4 bytes of each", () => {
    asked();
    expect(feed(POSTGRES, concat(pgMessage(10), pgMessage(20), pgMessage(100)))).toEqual([true]);
    expect(asked()).toEqual({ fills: 3, bytes: 12n });
    expect(feed(POSTGRES, concat(pgMessage(10), pgMessage(20), pgMessage(101)))).toEqual([false]);
  });

  it("carries a body across reads: the next message's header is found after it", () => {
    const m = concat(pgMessage(60), pgMessage(101));
    expect(feed(POSTGRES, m.subarray(0, 30), m.subarray(30, 70))).toEqual([true, false]);
    expect(feed(POSTGRES, m.subarray(0, 30), m.subarray(30, 62))).toEqual([true, true]);
  });

  it("frames only the new bytes [held, size) of a buffer that still holds earlier ones", () => {
    const m = concat(pgMessage(50), pgMessage(101));
    s.x.frameReset();
    const p = s.put(m);
    expect(s.x.frameFeed(POSTGRES, p, 50, 0, 50)).toBe(1);
    // The host hands the whole buffer again with the next read: bytes 0..50 were framed already.
    expect(s.x.frameFeed(POSTGRES, p, m.length, 50, m.length)).toBe(0);
  });

  it("reads a little-endian 2-byte length: 99 + 2 = 101 bytes is refused, 98 + 2 passes", () => {
    expect(feed(LITTLE2, Uint8Array.of(98, 0))).toEqual([true]);
    expect(s.x.frameLen()).toBe(100n);
    expect(feed(LITTLE2, Uint8Array.of(99, 0))).toEqual([false]);
    expect(feed(LITTLE2, Uint8Array.of(0, 1))).toEqual([false]); // 256 + 2
  });

  it("refuses an 8-byte length past 2^53 and accepts 992 + 8 = 1000", () => {
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigUint64(0, 2n ** 60n);
    expect(feed(WIDE8, big)).toEqual([false]);
    const ok = new Uint8Array(8);
    new DataView(ok.buffer).setBigUint64(0, 992n);
    expect(feed(WIDE8, ok)).toEqual([true]);
    expect(s.x.frameLen()).toBe(1000n);
  });

  it("refuses a length whose adjustment makes the message shorter than its header", () => {
    expect(feed(SHRINK, Uint8Array.of(4))).toEqual([false]); // 1 + 4 - 5 = 0 < 1
    // 1 + 5 - 5 = 1: a message that is its header alone, so each byte is the next header.
    expect(feed(SHRINK, Uint8Array.of(5, 5, 5))).toEqual([true]);
    expect(s.x.framePos()).toBe(0n);
  });

  it("refuses when the bytes cannot be read (a host error)", () => {
    s.x.failNextFills(1);
    try {
      expect(feed(POSTGRES, pgMessage(10))).toEqual([false]);
    } finally {
      s.x.failNextFills(0);
    }
  });
});

describe("delimited framing", () => {
  const text = (t: string): Uint8Array => new TextEncoder().encode(t);

  it("a line of exactly maxMessageBytes (10) including its CRLF passes, 11 bytes is refused", () => {
    expect(feed(CRLF, text("12345678\r\n"))).toEqual([true]);
    expect(feed(CRLF, text("123456789\r\n"))).toEqual([false]);
  });

  it("finds a delimiter split across reads", () => {
    expect(feed(CRLF, text("1234567\r"), text("\n1234567\r"), text("\nabc"))).toEqual([true, true, true]);
    expect(feed(CRLF, text("12345678\r"), text("x\n"))).toEqual([true, false]);
  });

  it("reads every byte: the delimiter can only be found by a scan", () => {
    asked();
    feed(CRLF, text("abc\r\nde\r\n"));
    expect(asked().bytes).toBe(9n);
  });
});

describe("chunk framing", () => {
  it("a read of 100 bytes passes and one of 101 is refused, without reading a byte", () => {
    asked();
    expect(feed(CHUNK, new Uint8Array(100), new Uint8Array(101))).toEqual([true, false]);
    expect(asked()).toEqual({ fills: 0, bytes: 0n });
  });
});
