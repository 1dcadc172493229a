// The sniff deadline in the real Envoy: a client that sends one byte and waits for the answer is not
// held forever. After the rule's protocolDetectionTimeout (default 1 s) the filter decides on the
// bytes seen so far: admitted bytes reach the upstream (and the echo comes back), a protocol the rule
// does not list is closed with reason `protocol`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, TcpClient, compileSegments, expectDenied, segment, sleep } from "../../testkit/envoy/harness.js";

describe("picoseg filter in Envoy: sniff deadline", () => {
  let env: FilterEnv;

  beforeAll(async () => {
    env = await FilterEnv.start([
      { name: "unknownOk", config: () => compileSegments([segment("any", { rules: [{ name: "unknown-ok", protocols: ["unknown", "redis"] }] })]) },
      { name: "httpOnly", config: () => compileSegments([segment("web", { rules: [{ name: "http-only", protocols: ["http1"] }] })]) },
      {
        name: "slow",
        config: () => compileSegments([segment("slow", { rules: [{ name: "patient", protocols: ["unknown"], protocolDetectionTimeout: "3s" }] })]),
      },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("a 1-byte first message that could still be a protocol is decided by the default deadline and echoed", async () => {
    const before = await env.snapshot();
    const c = await TcpClient.connect(env.port("unknownOk"));
    const t0 = Date.now();
    await c.write("P"); // may start POST (http1) or the http2 preface: undecided until more comes
    expect((await c.waitForBytes(1, 4000)).toString()).toBe("P");
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(3000);
    await c.write("ING\n");
    expect((await c.waitForBytes(5, 3000)).toString()).toBe("PING\n");
    expect(c.isOpen()).toBe(true);
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
    c.destroy();
  });

  it("closes with `protocol` at the deadline when the bytes so far are not a listed protocol; nothing is forwarded", async () => {
    const before = await env.snapshot();
    const c = await TcpClient.connect(env.port("httpOnly"));
    await c.write("G");
    const d = await expectDenied(env, c, "protocol", before);
    expect(d.protocol).toBe("unknown");
    expect(c.received().length).toBe(0);
    expect(env.upstream("httpOnly").totalReceived()).toBe(0);
  });

  it("follows the rule's protocolDetectionTimeout: still held at 1.8 s, echoed by 4 s", async () => {
    const c = await TcpClient.connect(env.port("slow"));
    await c.write("P");
    await sleep(1800);
    expect(c.received().length).toBe(0);
    expect(c.isOpen()).toBe(true);
    expect((await c.waitForBytes(1, 2500)).toString()).toBe("P");
    c.destroy();
  });
});
