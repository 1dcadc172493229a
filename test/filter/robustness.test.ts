// The filter never traps: random configurations, byte streams, read sizes, absent properties.
// (A small seeded run here; the large fuzz campaign lives with the benchmark tooling.)
import { describe, expect, it } from "vitest";
import { FilterHost } from "../../testkit/filter-host/index.js";

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  "generation 3", "tz 0 60 1774746000 120 1792890000 60", "tz 1 -300", "segment ns/a enforce", "segment ns/b audit",
  "quarantine 2 60 120", "rule r", "rule s", "principal *", "principal spiffe://x/*", "ip 10.0.0.0/8", "ip ::/0",
  "notip 10.9.0.0/16", "port 1 65535", "port 5432 5432", "protocol postgres", "protocol unknown", "protocol http1",
  "schedule 0", "schedule 1", "window 0 10080", "window 480 1080", "maxBytesIn 100", "maxBytesOut 50",
  "maxMessageBytes 16", "framing chunk", "framing lengthPrefixed 1 4 big -4", "framing lengthPrefixed 0 8 little 0",
  "framing lengthPrefixed 3 1 big -100", "framing delimited 0d0a", "framing delimited 00",
  "maxDurationSeconds 1", "perSource 10 200 3 2", "perSource 1 - - -",
];

function randomConfig(r: () => number): Uint8Array | string | null {
  const k = r();
  if (k < 0.05) return null;
  if (k < 0.1) return Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
  const lines = ["picoseg 1"];
  const n = Math.floor(r() * 14);
  for (let i = 0; i < n; i++) {
    let line = FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]!;
    if (r() < 0.05) line = line.replace(/\d+/, String(Math.floor(r() * 2 ** 40)));
    if (r() < 0.03) line = line.slice(0, Math.floor(r() * line.length));
    lines.push(line);
  }
  if (r() < 0.9) lines.push("end");
  return lines.join("\n");
}

function randomBytes(r: () => number, max: number): Uint8Array {
  const b = new Uint8Array(Math.floor(r() * max));
  const mode = r();
  for (let i = 0; i < b.length; i++) b[i] = mode < 0.3 ? 0 : mode < 0.5 ? 0x0a : Math.floor(r() * 256);
  return b;
}

describe("robustness", () => {
  it("survives random configurations, streams, sizes and properties without a trap", async () => {
    const r = prng(20261127);
    for (let round = 0; round < 150; round++) {
      const host = await FilterHost.start({ config: randomConfig(r), logLevel: r() < 0.5 ? "trace" : "info" });
      for (let k = 0; k < 6; k++) {
        const props: Record<string, Uint8Array | string | null> = {};
        if (r() < 0.2) props["source.address"] = r() < 0.5 ? null : randomBytes(r, 50);
        if (r() < 0.2) props["destination.port"] = r() < 0.5 ? null : randomBytes(r, 12);
        if (r() < 0.2) props["connection.mtls"] = randomBytes(r, 2);
        const c = host.connect({ source: r() < 0.5 ? "10.0.0.1:1" : "[::1]:2", port: Math.floor(r() * 65536), principal: r() < 0.3 ? "spiffe://x/y" : null, properties: props });
        for (let op = 0; op < 12; op++) {
          const x = r();
          if (x < 0.35) c.fromClient(randomBytes(r, 80), { end: r() < 0.05 });
          else if (x < 0.6) c.fromServer(randomBytes(r, 80), { end: r() < 0.05 });
          else if (x < 0.7) c.rawData(r() < 0.5, randomBytes(r, 40), Math.floor(r() * 2 ** 32), r() < 0.5);
          else if (x < 0.8) host.advance(Math.floor(r() * 3000));
          else if (x < 0.85) host.reconfigure(randomConfig(r));
          else if (x < 0.9) host.addRoot({ config: randomConfig(r) });
          else if (x < 0.93) c.closeFromClient();
        }
      }
      expect(host.crashed).toBeNull();
    }
  });
});

describe("odd bytes in names", () => {
  it("invalid UTF-8 in segment, rule and principal tokens neither traps nor breaks the JSON line", async () => {
    const enc = new TextEncoder();
    const cfg = new Uint8Array([
      ...enc.encode("picoseg 1\nsegment "), 0xff, 0xfe, 0x2f, 0xc0, ...enc.encode(" enforce\nrule "), 0xed, 0xa0, 0x80,
      ...enc.encode("\nprincipal spiffe://"), 0xf8, 0x22, ...enc.encode("\nport 1 1\nend\n"),
    ]);
    const host = await FilterHost.start({ config: cfg });
    const c = host.connect({ port: 2, principal: "spiffe://\u0000\u001f" });
    expect(c.closeReason).toBe("source");
    expect(host.crashed).toBeNull();
  });
});

describe("host errors", () => {
  const full = [
    "picoseg 1", "tz 0 0", "segment ns/a enforce", "quarantine 1 60 60", "rule r", "ip 10.0.0.0/8", "protocol unknown",
    "schedule 0", "window 0 10080", "maxBytesIn 1000", "maxMessageBytes 100", "framing lengthPrefixed 0 2 big 0",
    "maxDurationSeconds 5", "perSource 60 100000 10 2", "end", "",
  ].join("\n");

  it("a host whose property calls fail gets every connection denied, never a trap", async () => {
    const host = await FilterHost.start({ config: full });
    host.failing.add("proxy_get_property");
    const c = host.connect();
    expect(c.closeReason).toBe("source");
    expect(host.crashed).toBeNull();
  });

  it("when shared data fails, perSource limits fail closed", async () => {
    const host = await FilterHost.start({ config: full });
    host.failing.add("proxy_get_shared_data");
    expect(host.connect().closeReason).toBe("source-connections");
  });

  it("failing buffer reads close the connection instead of forwarding unchecked bytes", async () => {
    const host = await FilterHost.start({ config: full });
    const c = host.connect();
    host.failing.add("proxy_get_buffer_bytes");
    c.fromClient(Uint8Array.of(0, 5, 1, 2, 3, 4, 5));
    expect(c.closed).toBe(true);
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("every host call failing at once: no trap, through ticks and reconfigures", async () => {
    const host = await FilterHost.start({ config: full });
    const live = host.connect();
    for (const name of ["proxy_get_property", "proxy_get_buffer_bytes", "proxy_get_shared_data", "proxy_set_shared_data",
      "proxy_get_current_time_nanoseconds", "proxy_get_log_level", "proxy_close_stream", "proxy_set_effective_context",
      "proxy_define_metric", "proxy_increment_metric", "proxy_set_tick_period_milliseconds"]) host.failing.add(name);
    live.fromClient("abc");
    host.connect().fromClient("xyz");
    host.advance(10_000);
    host.reconfigure(full);
    host.addRoot({ config: full });
    host.connect().fromServer("x");
    expect(host.crashed).toBeNull();
  });
});
