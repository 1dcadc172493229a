// Decision lines and counters: one JSON line per denial at warn, counters defined once per root context.
import { describe, expect, it } from "vitest";
import { config, hostWith, oneRule } from "./helpers.js";

const REASONS = ["no-config", "no-rule", "source", "port", "protocol", "schedule", "bytes-in", "bytes-out", "message-size",
  "duration", "source-bytes", "source-connections", "source-ports", "quarantined", "revoked"];

describe("counters", () => {
  it("picoseg.allowed, picoseg.denied.<reason>, picoseg.audit.<reason> and picoseg.persource.evicted are defined at start, once", async () => {
    const host = await hostWith(oneRule());
    const names = host.metricNames();
    expect(names).toContain("picoseg.allowed");
    expect(names).toContain("picoseg.persource.evicted");
    for (const r of REASONS) {
      expect(names).toContain(`picoseg.denied.${r}`);
      expect(names).toContain(`picoseg.audit.${r}`);
    }
    const defined = host.hostCalls.get("proxy_define_metric");
    expect(defined).toBe(2 + 2 * REASONS.length);
    host.connectMany(50);
    expect(host.hostCalls.get("proxy_define_metric")).toBe(defined);
    expect(host.counter("picoseg.allowed")).toBe(50);
  });
});

describe("decision lines", () => {
  it("a denial writes exactly one JSON line at warn with the decision's facts", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", "principal spiffe://td/ns/a/sa/api", "port 5432 5432"));
    host.connect({ source: "[fd00::1]:40000", port: 6379, principal: "spiffe://td/ns/a/sa/api" });
    const warn = host.logs("warn");
    expect(warn).toHaveLength(1);
    expect(JSON.parse(warn[0]!)).toMatchObject({
      picoseg: "deny", reason: "port", segment: "ns/db", rule: "api", source: "[fd00::1]:40000",
      principal: "spiffe://td/ns/a/sa/api", port: 6379, bytesIn: 0, bytesOut: 0, mode: "enforce",
    });
  });

  it("every control character, quote and backslash of a 1 KiB principal round-trips through the JSON line", async () => {
    const host = await hostWith(oneRule("principal spiffe://x"));
    const raw = Uint8Array.from({ length: 1024 }, (_, i) => [1, 9, 10, 15, 16, 31, 34, 92, 0x41][i % 9]!);
    host.connect({ principal: "x", properties: { "connection.uri_san_peer_certificate": raw } });
    const line = JSON.parse(host.logs("warn").at(-1)!) as { principal: string };
    expect(line.principal).toBe(new TextDecoder().decode(raw));
  });

  it("strings are JSON-escaped", async () => {
    const host = await hostWith(oneRule("principal spiffe://x"));
    host.connect({ principal: 'spiffe://"quoted"\\\n' });
    const line = JSON.parse(host.logs("warn")[0]!) as { principal: string };
    expect(line.principal).toBe('spiffe://"quoted"\\\n');
  });

  it("allowed connections log nothing at info and one debug line at debug", async () => {
    const host = await hostWith(oneRule(), { logLevel: "info" });
    const before = host.logCalls;
    host.connectMany(20);
    expect(host.logCalls).toBe(before);
    host.setLogLevel("debug");
    host.advance(500); // the filter reads the host's level at configure and at each tick
    const c = host.connect();
    const debug = host.logs("debug").map((l) => JSON.parse(l) as { picoseg: string; connection: number });
    expect(debug).toEqual([expect.objectContaining({ picoseg: "allow", connection: c.id })]);
  });

  it("reads the host's log level at configure and each tick, never per connection", async () => {
    const host = await hostWith(oneRule("port 1 1"), { logLevel: "error" });
    const levelCalls = (): number => host.hostCalls.get("proxy_get_log_level") ?? 0;
    const before = levelCalls();
    host.connect({ port: 1 });
    host.connect({ port: 2 });
    expect(levelCalls()).toBe(before);
    host.setLogLevel("debug");
    expect(host.connect({ port: 2 }).closed).toBe(true);
    expect(host.logs("warn")).toEqual([]); // error until the next tick
    host.advance(500);
    expect(levelCalls()).toBe(before + 1);
    const admitted = host.connect({ port: 1 });
    const denied = host.connect({ port: 2 });
    expect(host.decisionsFor(admitted.id)).toEqual([expect.objectContaining({ picoseg: "allow" })]);
    expect(denied.closeReason).toBe("port");
    host.setLogLevel("info");
    host.reconfigure(oneRule("port 1 1"));
    host.connect({ port: 1 });
    expect(host.logs("debug")).toHaveLength(1); // info since the configure: the one allow line above
  });

  it("no log call at all when the host's level would not print a denial", async () => {
    const host = await hostWith(oneRule("port 1 1"), { logLevel: "error" });
    const before = host.logCalls;
    const c = host.connect({ port: 2 });
    expect(c.closed).toBe(true);
    expect(host.logCalls).toBe(before);
    expect(host.counter("picoseg.denied.port")).toBe(1);
  });
});
