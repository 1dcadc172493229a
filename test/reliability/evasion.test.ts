// Evasion through the real Envoy and filter: what a client does to slip past a limit, and that it
// is caught. An IPv4-mapped IPv6 source against notIpBlocks on a dual-stack listener. Reconnect storms against maxConnections and port spraying against maxDistinctPorts
// (connections in parallel, over Envoy's two workers), a frame header split into one-byte reads
// against maxMessageBytes, a slow drip against maxDurationSeconds, and a half-close right after an
// over-budget write against maxBytesIn.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, TcpClient, compileSegments, segment, sleep } from "../../testkit/envoy/harness.js";

const STORM = 40;
const SPRAY_PORTS = ["p1", "p2", "p3", "p4", "p5"];

/** Connects from `from` to `port`, writes `line`, and says whether the echo came back (else it was closed). */
async function tryEcho(port: number, from: string, line = "hello\n"): Promise<"allowed" | "denied"> {
  const c = await TcpClient.connect(port, { from });
  try {
    await c.write(line);
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      if (c.received().length >= line.length) return "allowed";
      if (!c.isOpen()) return "denied";
      await sleep(10);
    }
    throw new Error(`neither echo nor close within 4 s on port ${port}`);
  } finally {
    c.socket.destroy();
  }
}

describe("evasion in the real Envoy", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    const spray = (p: Record<string, number>): string =>
      compileSegments([segment("spray", { rules: [{ name: "two-ports", ports: SPRAY_PORTS.map((n) => p[n]!), perSource: { window: "1h", maxDistinctPorts: 2 } }] })]);
    env = await FilterEnv.start([
      { name: "storm", config: () => compileSegments([segment("storm", { rules: [{ name: "ten", perSource: { window: "1h", maxConnections: 10 } }] })]) },
      // One VM for the five ports: per-source state is shared data of a VM.
      ...SPRAY_PORTS.map((name) => ({ name, vmId: "spray", config: spray })),
      {
        name: "frames",
        config: () =>
          compileSegments([segment("frames", { rules: [{ name: "small", limits: { maxMessageBytes: 16, framing: { type: "lengthPrefixed", offset: 0, width: 4, endian: "big" } } }] })]),
      },
      {
        name: "mapped",
        dualStack: true,
        config: () => compileSegments([segment("mapped", { rules: [{ name: "net", from: { ipBlocks: ["127.0.0.0/8"], notIpBlocks: ["127.0.9.0/24"] } }] })]),
      },
      { name: "drip", config: () => compileSegments([segment("drip", { rules: [{ name: "one-second", limits: { maxDurationSeconds: 1 } }] })]) },
      { name: "budget", config: () => compileSegments([segment("budget", { rules: [{ name: "ten-bytes", limits: { maxBytesIn: 10 } }] })]) },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it(`a reconnect storm of ${STORM} parallel connections gets exactly maxConnections (10) through`, async () => {
    // The first connection creates the per-source record (two workers creating it at once may
    // lose an update: a documented limit); the storm then races on it, and CAS keeps it exact.
    expect(await tryEcho(env.port("storm"), "127.0.3.1")).toBe("allowed");
    const results = await Promise.all(Array.from({ length: STORM - 1 }, () => tryEcho(env.port("storm"), "127.0.3.1")));
    expect(results.filter((r) => r === "allowed").length).toBe(9);
    expect(await env.envoy.counter("picoseg.denied.source-connections")).toBe(STORM - 10);
    expect(await tryEcho(env.port("storm"), "127.0.3.2")).toBe("allowed"); // another source is unaffected
  });

  it("spraying five ports in parallel gets exactly two ports through (maxDistinctPorts 2), and only those stay open", async () => {
    expect(await tryEcho(env.port("p1"), "127.0.4.1")).toBe("allowed");
    const rest = SPRAY_PORTS.slice(1);
    const results = await Promise.all(rest.flatMap((n) => [tryEcho(env.port(n), "127.0.4.1"), tryEcho(env.port(n), "127.0.4.1")]));
    const allowedPorts = new Set(rest.filter((_, i) => results[2 * i] === "allowed" || results[2 * i + 1] === "allowed"));
    expect(allowedPorts.size).toBe(1); // p1 plus one more
    const second = [...allowedPorts][0]!;
    // Once chosen, the two ports stay usable and the others stay shut.
    expect(await tryEcho(env.port("p1"), "127.0.4.1")).toBe("allowed");
    expect(await tryEcho(env.port(second), "127.0.4.1")).toBe("allowed");
    for (const n of rest.filter((x) => x !== second)) expect(await tryEcho(env.port(n), "127.0.4.1")).toBe("denied");
  });

  it("a frame header split into one-byte reads is still read: a 12-byte payload passes, a 13-byte one is message-size", async () => {
    const frame = (payload: number): Buffer => {
      const b = Buffer.alloc(4 + payload, 0x61);
      b.writeUInt32BE(payload, 0);
      return b;
    };
    const send = async (bytes: Buffer): Promise<TcpClient> => {
      const c = await TcpClient.connect(env.port("frames"));
      for (const byte of bytes.subarray(0, 4)) {
        await c.write(Buffer.of(byte));
        await sleep(25); // separate reads at Envoy (no delay: each write is its own segment)
      }
      await c.write(bytes.subarray(4));
      return c;
    };
    const ok = await send(frame(12));
    expect((await ok.waitForBytes(16, 3000)).equals(frame(12))).toBe(true);
    ok.destroy();
    const received = env.upstream("frames").totalReceived();
    const bad = await send(frame(13));
    await bad.waitForClose(3000);
    expect(await env.envoy.counter("picoseg.denied.message-size")).toBe(1);
    expect(env.upstream("frames").totalReceived() - received).toBeLessThanOrEqual(3); // at most the header bytes read before it was complete
    expect(bad.received().length).toBeLessThanOrEqual(3); // the echo of those, nothing more
  });

  it("an IPv4-mapped IPv6 source (::ffff:127.0.9.1 on a dual-stack listener) still matches notIpBlocks 127.0.9.0/24", async () => {
    expect(await tryEcho(env.port("mapped"), "127.0.0.1")).toBe("allowed");
    expect(await tryEcho(env.port("mapped"), "127.0.9.1")).toBe("denied");
    const d = await env.envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === "source", 3000);
    expect(d.source).toMatch(/^\[::ffff:127\.0\.9\.1\]:\d+$/); // Envoy hands the filter the mapped form
  });

  it("a slow drip (a byte every 100 ms) is cut by maxDurationSeconds 1: not before 1 s, well before 2.5 s", async () => {
    const c = await TcpClient.connect(env.port("drip"));
    const t0 = Date.now();
    let sent = 0;
    while (c.isOpen() && Date.now() - t0 < 4000) {
      await c.write("x").catch(() => undefined);
      sent++;
      await sleep(100);
    }
    const lived = Date.now() - t0;
    expect(c.isOpen()).toBe(false);
    expect(lived).toBeGreaterThanOrEqual(1000);
    expect(lived).toBeLessThan(2500);
    expect(await env.envoy.counter("picoseg.denied.duration")).toBe(1);
    expect(sent).toBeGreaterThan(5);
  });

  it("a half-close right after an over-budget write does not carry the excess: 10 bytes pass, byte 11 never arrives", async () => {
    const received = env.upstream("budget").totalReceived();
    const c = await TcpClient.connect(env.port("budget"));
    c.socket.end("0123456789ABCDEFGHIJ"); // 20 bytes and FIN at once
    await c.waitForClose(3000);
    await sleep(300);
    expect(env.upstream("budget").totalReceived() - received).toBe(0); // the read that would pass the budget is not forwarded
    expect(await env.envoy.counter("picoseg.denied.bytes-in")).toBe(1);
    const ok = await TcpClient.connect(env.port("budget"));
    ok.socket.end("0123456789"); // exactly the budget, then FIN: delivered whole
    await sleep(500);
    expect(env.upstream("budget").totalReceived() - received).toBe(10);
    ok.destroy();
  });
});
