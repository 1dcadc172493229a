// sniff.ts on its own: the protocol of a stream's first bytes, over plain memory, no host.
import { beforeAll, describe, expect, it } from "vitest";
import { Stages } from "./stages-wasm.js";

const P = { tls: 0, http1: 1, http2: 2, ssh: 3, postgres: 4, mysql: 5, redis: 6, mongodb: 7, mqtt: 8, amqp: 9, kafka: 10, nats: 11, unknown: 12, undecided: -1 } as const;
type Proto = keyof typeof P;

let s: Stages;
beforeAll(async () => {
  s = await Stages.load();
}, 240_000);

const text = (t: string): Uint8Array => new TextEncoder().encode(t);
function bytes(...parts: (number[] | string)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? Array.from(text(p)) : p)));
}
const be32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const le32 = (v: number): number[] => be32(v).reverse();

/** The protocol of a whole first message (final: nothing more will decide it). */
function sniff(b: Uint8Array, fromServer: boolean, final = true): number {
  return s.x.sniffPrefix(s.put(b), b.length, fromServer ? 1 : 0, final ? 1 : 0);
}

const CLIENT_FIRST: [Proto, Uint8Array][] = [
  ["tls", bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])],
  ["http1", text("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")],
  ["http1", text("OPTIONS * HTTP/1.1\r\n")],
  ["http2", text("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")],
  ["ssh", text("SSH-2.0-OpenSSH_9.6\r\n")],
  ["postgres", bytes(be32(41), be32(196608), "user\0app\0database\0db\0\0")], // StartupMessage 3.0
  ["postgres", bytes(be32(8), be32(80877103))], // SSLRequest
  ["postgres", bytes(be32(16), be32(80877102), be32(1), be32(2))], // CancelRequest
  ["redis", text("*1\r\n$4\r\nPING\r\n")],
  ["mongodb", bytes(le32(63), le32(7), le32(0), le32(2013), new Array<number>(47).fill(0))], // OP_MSG
  ["unknown", text("hello, world")],
];

const SERVER_FIRST: [Proto, Uint8Array][] = [
  ["mysql", bytes([0x4a, 0x00, 0x00, 0x00, 0x0a], "8.0.36\0", new Array<number>(20).fill(1))],
  ["ssh", text("SSH-2.0-OpenSSH_9.6\r\n")],
  ["http1", text("HTTP/1.1 200 OK\r\n")],
  ["unknown", bytes([0x16, 0x03, 0x01, 0x00, 0x05])], // TLS is a client-first protocol
];

describe("protocol sniffing", () => {
  it.each(CLIENT_FIRST)("recognises %s from the client's first bytes", (proto, b) => {
    expect(sniff(b, false)).toBe(P[proto]);
  });

  it.each(SERVER_FIRST)("recognises %s from the server's first bytes", (proto, b) => {
    expect(sniff(b, true)).toBe(P[proto]);
  });

  it("does not take a client's mysql-like greeting or a server's StartupMessage", () => {
    expect(sniff(SERVER_FIRST[0]![1], false)).toBe(P.unknown);
    expect(sniff(CLIENT_FIRST[5]![1], true)).toBe(P.unknown);
  });

  it("waits while a prefix could still become a protocol, and decides on every prefix of a message", () => {
    for (const [proto, b] of CLIENT_FIRST.filter(([p]) => p !== "unknown")) {
      const verdicts = new Set<number>();
      for (let n = 1; n <= b.length; n++) verdicts.add(sniff(b.subarray(0, n), false, false));
      // Each prefix is undecided or already the protocol; never another protocol.
      for (const v of verdicts) expect([P.undecided, P[proto]], `${proto}`).toContain(v);
      expect(sniff(b.subarray(0, 1), false, false), `${proto}: one byte decides nothing`).toBe(P.undecided);
    }
  });

  it("judges a short prefix as unknown once nothing more can come (end of stream, deadline)", () => {
    expect(sniff(text("G"), false, false)).toBe(P.undecided);
    expect(sniff(text("G"), false, true)).toBe(P.unknown);
    expect(sniff(text("PRI * HTTP/2"), false, true)).toBe(P.unknown);
  });

  it("rejects early: 4 bytes no recogniser accepts decide unknown without waiting for 64", () => {
    expect(sniff(bytes([0x7f, 0x7f, 0x7f]), false, false)).toBe(P.undecided); // a mongodb length needs 4 bytes
    expect(sniff(bytes([0x7f, 0x7f, 0x7f, 0x7f]), false, false)).toBe(P.unknown);
  });
});

describe("sniffing a buffer through its byte view", () => {
  function sniffBuffer(b: Uint8Array, fromServer: boolean, end: boolean): number {
    return s.x.sniffBuffer(s.put(b), b.length, fromServer ? 1 : 0, end ? 1 : 0);
  }

  it("reads at most 64 bytes, and 64 bytes of nothing known are unknown", () => {
    s.x.bytesAskedCount();
    const b = new Uint8Array(1000).fill(0x41);
    b[0] = 0x50; // "P": could be POST, PUT, PATCH, PRI for a while
    expect(sniffBuffer(b, false, false)).toBe(P.unknown);
    expect(s.x.bytesAskedCount()).toBe(64n);
  });

  it("holds an undecided short buffer until the end of the stream", () => {
    expect(sniffBuffer(text("GE"), false, false)).toBe(P.undecided);
    expect(sniffBuffer(text("GE"), false, true)).toBe(P.unknown);
    expect(sniffBuffer(text("GET / HTTP/1.1\r\n"), false, false)).toBe(P.http1);
  });

  it("judges bytes it cannot read as unknown", () => {
    s.x.failNextFills(1);
    try {
      expect(sniffBuffer(text("GET / HTTP/1.1\r\n"), false, false)).toBe(P.unknown);
    } finally {
      s.x.failNextFills(0);
    }
  });
});
