// Volume, message size and lifetime through the real Envoy: exact byte budgets both ways (the limit
// passes, one byte more closes and the other side never receives more than the limit), message size
// under lengthPrefixed framing with a header split across reads and under delimited framing, and
// maxDurationSeconds closing a live connection from the tick.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, segment, sleep, STAYS_OPEN_MS, type Limits, type UpstreamConnection,
} from "../../testkit/envoy/harness.js";
import { type Reason } from "../../api/decision.js";

const withLimits = (name: string, limits: Limits): string => compileSegments([segment(name, { rules: [{ name, limits }] })]);

const LIMIT = 100;
/** Time for Envoy to deliver a write as its own read before the next one is sent. */
const BETWEEN_READS_MS = 100;

/** A frame for `framing lengthPrefixed 0 4 big 0`: 4-byte big-endian payload length, then payload. */
function frame(payloadLength: number, fill = 0x61): Buffer {
  const b = Buffer.alloc(4 + payloadLength, fill);
  b.writeUInt32BE(payloadLength, 0);
  return b;
}

/**
 * A limit a listener below enforces: `exact` (one read) passes and is echoed; after `first`, a read of
 * `violating` that goes one byte over closes the connection with `reason`, and the upstream has only `first`.
 */
const AT_THE_LIMIT: {
  suite: string; listener: string; allows: string; exact: Buffer | string;
  closes: string; first: Buffer | string; violating: Buffer | string; reason: Reason;
}[] = [
  {
    suite: "maxMessageBytes under delimited framing (\\n, limit 10)", listener: "lines",
    allows: "allows a 10-byte line (delimiter included)", exact: "123456789\n",
    closes: "closes on an 11-byte line with message-size; the upstream only has the lines before it",
    first: "ok\n", violating: "1234567890\n", reason: "message-size",
  },
  {
    suite: "maxMessageBytes under chunk framing (each read, limit 10)", listener: "chunks",
    allows: "allows a 10-byte read", exact: "0123456789",
    closes: "closes on an 11-byte read with message-size; none of it is forwarded",
    first: "short\n", violating: "0123456789A", reason: "message-size",
  },
  {
    suite: "annotation picoseg.io/max-bytes-in tightens the rule's budget", listener: "annotated",
    allows: "carries exactly the annotation's 50 bytes", exact: Buffer.alloc(50, 0x61),
    closes: "closes on byte 51 although the rule allows 100",
    first: Buffer.alloc(50, 0x61), violating: "b", reason: "bytes-in",
  },
];

describe("picoseg filter in Envoy: budgets, message sizes, duration", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    env = await FilterEnv.start([
      { name: "bytesIn", config: () => withLimits("budget-in", { maxBytesIn: LIMIT }) },
      {
        name: "bytesOut",
        upstream: { echo: false },
        config: () => withLimits("budget-out", { maxBytesOut: LIMIT }),
      },
      {
        name: "frames",
        config: () => withLimits("frames", {
          maxMessageBytes: 20,
          framing: { type: "lengthPrefixed", offset: 0, width: 4, endian: "big", adjustment: 0 },
        }),
      },
      {
        name: "lines",
        config: () => withLimits("lines", { maxMessageBytes: 10, framing: { type: "delimited", delimiter: "\n" } }),
      },
      { name: "duration", config: () => withLimits("short", { maxDurationSeconds: 2 }) },
      { name: "chunks", config: () => withLimits("chunks", { maxMessageBytes: 10, framing: { type: "chunk" } }) },
      // The app team's annotation tightens the operator's 100-byte budget to 50.
      {
        name: "annotated",
        config: () => compileSegments([segment("budget", { rules: [{ name: "budget", limits: { maxBytesIn: LIMIT } }] })],
          { annotations: { "picoseg.io/max-bytes-in": "50" } }),
      },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  /**
   * Writes `allowed` and waits for its echo, then `violating` as a read of its own, which must
   * close the connection with `reason`. Returns what the upstream and the client had received.
   */
  async function deniedOnSecondRead(
    listener: string,
    allowed: Buffer | string,
    violating: Buffer | string,
    reason: Reason,
  ): Promise<{ upstream: Buffer; client: Buffer }> {
    const before = await env.snapshot();
    const up = env.upstream(listener);
    const index = up.connections.length;
    const c = await TcpClient.connect(env.port(listener));
    await c.write(allowed);
    await c.waitForBytes(Buffer.byteLength(allowed), 3000);
    await sleep(BETWEEN_READS_MS);
    await c.write(violating);
    await expectDenied(env, c, reason, before);
    const conn = await up.waitForConnection(index + 1);
    await conn.waitForClose(3000);
    return { upstream: conn.received(), client: c.received() };
  }

  describe("maxBytesIn", () => {
    it(`carries exactly ${LIMIT} client bytes and stays open`, async () => {
      const before = await env.snapshot();
      const { client } = await expectAllowedEcho(env, "bytesIn", Buffer.alloc(LIMIT, 0x41), before);
      client.destroy();
    });

    it(`closes on byte ${LIMIT + 1} with bytes-in; the upstream got the ${60} bytes before the violating read`, async () => {
      // 60 + 41 bytes: 101 in total
      const got = await deniedOnSecondRead("bytesIn", Buffer.alloc(60, 0x42), Buffer.alloc(LIMIT + 1 - 60, 0x43), "bytes-in");
      expect(got.upstream.equals(Buffer.alloc(60, 0x42))).toBe(true);
      expect(got.client.equals(Buffer.alloc(60, 0x42))).toBe(true);
    });
  });

  describe("maxBytesOut", () => {
    /** A client that asked the bytesOut listener's (non-echoing) server for data, and that server's side. */
    async function askServer(): Promise<{ c: TcpClient; conn: UpstreamConnection }> {
      const up = env.upstream("bytesOut");
      const index = up.connections.length;
      const c = await TcpClient.connect(env.port("bytesOut"));
      await c.write("GIVE\n");
      const conn = await up.waitForConnection(index + 1);
      await conn.waitForBytes(5, 3000);
      return { c, conn };
    }

    it(`delivers exactly ${LIMIT} server bytes and stays open`, async () => {
      const before = await env.snapshot();
      const { c, conn } = await askServer();
      await conn.write(Buffer.alloc(LIMIT, 0x44));
      expect((await c.waitForBytes(LIMIT, 3000)).equals(Buffer.alloc(LIMIT, 0x44))).toBe(true);
      await sleep(STAYS_OPEN_MS);
      expect(c.isOpen()).toBe(true);
      await env.expectCounterDelta(before, "picoseg.allowed", 1);
      c.destroy();
    });

    it(`closes on server byte ${LIMIT + 1} with bytes-out; the client never receives more than ${LIMIT}`, async () => {
      const before = await env.snapshot();
      const { c, conn } = await askServer();
      await conn.write(Buffer.alloc(70, 0x45));
      await c.waitForBytes(70, 3000);
      await sleep(BETWEEN_READS_MS);
      await conn.write(Buffer.alloc(LIMIT + 1 - 70, 0x46)).catch(() => undefined);
      await expectDenied(env, c, "bytes-out", before);
      expect(c.received().equals(Buffer.alloc(70, 0x45))).toBe(true);
      await conn.waitForClose(3000);
    });
  });

  describe("maxMessageBytes under lengthPrefixed framing (4-byte big-endian length, limit 20)", () => {
    it("allows a 20-byte frame whose header is split across two reads, then another", async () => {
      const before = await env.snapshot();
      const up = env.upstream("frames");
      const index = up.connections.length;
      const c = await TcpClient.connect(env.port("frames"));
      const f = frame(16); // 4 + 16 = 20 bytes: exactly the limit
      await c.write(f.subarray(0, 2));
      await sleep(BETWEEN_READS_MS);
      await c.write(f.subarray(2));
      await c.waitForBytes(20, 3000);
      await c.write(frame(0)); // a zero-length frame: 4 bytes
      const all = Buffer.concat([f, frame(0)]);
      expect((await c.waitForBytes(all.length, 3000)).equals(all)).toBe(true);
      const conn = await up.waitForConnection(index + 1);
      expect(conn.received().equals(all)).toBe(true);
      await sleep(STAYS_OPEN_MS);
      expect(c.isOpen()).toBe(true);
      await env.expectCounterDelta(before, "picoseg.allowed", 1);
      c.destroy();
    });

    it("closes on a 21-byte frame split across two reads with message-size; none of its payload is forwarded", async () => {
      const before = await env.snapshot();
      const up = env.upstream("frames");
      const index = up.connections.length;
      const c = await TcpClient.connect(env.port("frames"));
      const good = frame(16, 0x67);
      await c.write(good);
      await c.waitForBytes(20, 3000);
      const bad = frame(17, 0x62); // 21 bytes
      await c.write(bad.subarray(0, 2));
      await sleep(BETWEEN_READS_MS);
      await c.write(bad.subarray(2));
      await expectDenied(env, c, "message-size", before);
      const conn = await up.waitForConnection(index + 1);
      await conn.waitForClose(3000);
      const got = conn.received();
      // The good frame arrived whole; of the bad one at most the 2 header bytes that were forwarded
      // before its length could be known — never a payload byte.
      expect(got.subarray(0, 20).equals(good)).toBe(true);
      expect(got.length).toBeLessThanOrEqual(22);
      expect(got.includes(0x62)).toBe(false);
    });
  });

  // One suite per limit met exactly: it passes; one byte more, as a read of its own, closes.
  for (const t of AT_THE_LIMIT) {
    describe(t.suite, () => {
      it(t.allows, async () => {
        const before = await env.snapshot();
        const { client } = await expectAllowedEcho(env, t.listener, t.exact, before);
        client.destroy();
      });

      it(t.closes, async () => {
        const got = await deniedOnSecondRead(t.listener, t.first, t.violating, t.reason);
        expect(got.upstream).toEqual(Buffer.from(t.first));
      });
    });
  }

  describe("maxDurationSeconds", () => {
    it("keeps a connection open before its duration and closes it from the tick after 2 s with duration", async () => {
      const before = await env.snapshot();
      const t0 = Date.now();
      const { client, upstream } = await expectAllowedEcho(env, "duration", "short-lived\n", before);
      await sleep(Math.max(0, t0 + 1500 - Date.now()));
      expect(client.isOpen()).toBe(true);
      await client.waitForClose(3000);
      const lived = Date.now() - t0;
      expect(lived).toBeGreaterThanOrEqual(2000);
      expect(lived).toBeLessThanOrEqual(3100);
      await upstream.waitForClose(2000);
      expect(upstream.received().toString()).toBe("short-lived\n");
      await env.expectCounterDelta(before, "picoseg.denied.duration", 1);
    });
  });

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
