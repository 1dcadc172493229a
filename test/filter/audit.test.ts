// Audit mode: decide, log, count — never close, never hold beyond sniffing.
import { describe, expect, it } from "vitest";
import { bytes, config, hostWith } from "./helpers.js";

const audit = (...ruleLines: string[]) => config("segment ns/dry audit", "rule r", ...ruleLines);

describe("audit mode", () => {
  it("a would-be bytes-in violation is logged and counted, the bytes flow and the connection stays", async () => {
    const host = await hostWith(audit("maxBytesIn 10"));
    const c = host.connect();
    expect(c.fromClient(bytes(11))).toBe(0);
    expect(c.fromClient(bytes(5))).toBe(0);
    expect(c.closed).toBe(false);
    expect(c.deliveredToServer.length).toBe(16);
    expect(host.counter("picoseg.audit.bytes-in")).toBe(1);
    expect(host.counter("picoseg.denied.bytes-in")).toBe(0);
    const lines = c.decisions().filter((d) => d.picoseg === "audit");
    expect(lines).toHaveLength(1); // once per reason per connection
    expect(lines[0]).toMatchObject({ reason: "bytes-in", mode: "audit", segment: "ns/dry", rule: "r" });
  });

  it("a would-be source denial in an all-audit workload is logged but the connection proceeds", async () => {
    const host = await hostWith(audit("ip 10.9.0.0/16"));
    const c = host.connect({ source: "10.1.0.1:1" });
    expect(c.closed).toBe(false);
    expect(c.fromClient("x")).toBe(0);
    expect(host.counter("picoseg.audit.source")).toBe(1);
  });

  it("with an enforcing segment present, an unmatched source is denied for real", async () => {
    const host = await hostWith(config("segment ns/dry audit", "rule a", "ip 10.9.0.0/16", "segment ns/hard enforce", "rule b", "ip 10.8.0.0/16"));
    expect(host.connect({ source: "10.1.0.1:1" }).closeReason).toBe("source");
  });

  it("sniffs (holding only while undecided), reports a protocol mismatch, and forwards", async () => {
    const host = await hostWith(audit("protocol postgres"));
    const c = host.connect();
    expect(c.fromClient("GE")).toBe(1);
    expect(c.fromClient("T / HTTP/1.1\r\n")).toBe(0);
    expect(c.deliveredToServer.length).toBe(16);
    expect(host.counter("picoseg.audit.protocol")).toBe(1);
  });

  it("message size, schedule and duration in audit never close", async () => {
    const host = await hostWith(config("tz 0 0", "segment ns/dry audit", "rule r", "maxMessageBytes 4", "maxDurationSeconds 1", "schedule 0", "window 0 10080"));
    const c = host.connect();
    expect(c.fromClient(bytes(5))).toBe(0);
    host.advance(5000);
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.audit.message-size")).toBe(1);
    expect(host.counter("picoseg.audit.duration")).toBe(1); // logged once, not on every tick
  });

  it("a segment's mode applies to its own rules only", async () => {
    const host = await hostWith(config(
      "segment ns/a audit", "rule soft", "port 1 1", "maxBytesIn 1",
      "segment ns/b enforce", "rule hard", "port 2 2", "maxBytesIn 1",
    ));
    const soft = host.connect({ port: 1 });
    soft.fromClient("ab");
    const hard = host.connect({ port: 2 });
    hard.fromClient("ab");
    expect(soft.closed).toBe(false);
    expect(hard.closeReason).toBe("bytes-in");
  });
});
