// Connection setup must not grow with the number of live connections (the SDK's
// context creation logged every live context id: 1.0 ms per connection at 10,000 live).
// Not a timed test: it counts what setup does — log calls, log bytes, Wasm memory.
import { describe, expect, it } from "vitest";
import type { ConnectOptions, FilterHost } from "../../testkit/filter-host/index.js";
import { bytes, config, hostWith, oneRule } from "./helpers.js";

/** A rule with every per-connection state in use: framing in both directions, perSource bytes, sniffing. */
const FULL = config(
  "segment ns/db enforce", "rule api", "ip 10.0.0.0/8", "port 5432 5432", "protocol postgres", "protocol unknown",
  "maxBytesIn 1000000", "maxBytesOut 1000000", "maxMessageBytes 65536", "framing lengthPrefixed 1 4 big -4",
  "maxDurationSeconds 3600", "perSource 3600 1000000000 - -",
);

const src = (i: number) => ({ source: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:40000` });

function setupCost(host: FilterHost, n: number, offset: number): { logCalls: number; logBytes: number; memory: number } {
  const calls = host.logCalls;
  const bytesLogged = host.logBytes;
  const mem = host.memoryBytes();
  host.connectMany(n, (i) => src(offset + i));
  return { logCalls: host.logCalls - calls, logBytes: host.logBytes - bytesLogged, memory: host.memoryBytes() - mem };
}

describe("connection setup at 10,000 live connections", () => {
  it("makes no log call when the host would not print (info level), at 10 or at 10,000 live", async () => {
    const host = await hostWith(FULL, { logLevel: "info" });
    host.connectMany(10, src);
    expect(setupCost(host, 100, 10).logCalls).toBe(0);
    host.connectMany(10_000, (i) => src(200 + i));
    expect(host.liveConnections).toBeGreaterThanOrEqual(10_000);
    expect(setupCost(host, 100, 20_000).logCalls).toBe(0);
  });

  it("logs the same bytes per new connection at trace level whether 10 or 10,000 are live", async () => {
    const host = await hostWith(FULL, { logLevel: "trace" });
    host.connectMany(10, src);
    const few = setupCost(host, 100, 10);
    host.connectMany(10_000, (i) => src(200 + i));
    const many = setupCost(host, 100, 20_000);
    expect(few.logCalls).toBe(100); // one allow line each
    expect(many.logCalls).toBe(100);
    // the lines differ only in the digits of ids and addresses
    expect(Math.abs(many.logBytes - few.logBytes) / 100).toBeLessThan(8);
  });

  it("uses at most 512 bytes of Wasm memory per live connection", async () => {
    const host = await hostWith(FULL);
    host.connectMany(100, src); // warm-up: registry, scratch buffers
    const before = host.memoryBytes();
    const conns = host.connectMany(10_000, (i) => src(1000 + i));
    for (const c of conns.slice(0, 50)) expect(c.closed).toBe(false);
    const perConnection = (host.memoryBytes() - before) / 10_000;
    expect(perConnection).toBeLessThanOrEqual(512);
  });

  it("memory for new connections at 10,000 live is not proportional to the live count", async () => {
    const host = await hostWith(FULL);
    host.connectMany(10_000, src);
    const growth = setupCost(host, 2_000, 50_000).memory;
    expect(growth).toBeLessThanOrEqual(2_000 * 512);
  });

  it("closed connections give their memory back: churn does not grow memory", async () => {
    const host = await hostWith(FULL);
    const warm = host.connectMany(2_000, src);
    for (const c of warm) { c.fromClient(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f)); c.closeFromClient(); }
    host.advance(1000);
    const before = host.memoryBytes();
    for (let round = 0; round < 5; round++) {
      const batch = host.connectMany(2_000, (i) => src(10_000 * (round + 1) + i));
      for (const c of batch) { c.fromClient(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f)); c.closeFromServer(); }
      host.advance(1000);
    }
    expect(host.memoryBytes()).toBe(before);
  });
});

describe("connection properties read per decision", () => {
  const reads = (host: FilterHost) => host.hostCalls.get("proxy_get_property") ?? 0;

  // Each admission connects once to warm up, then once more, counting that second connection's reads.
  const admissions: { name: string; rule: string; warmUp: ConnectOptions; measured: ConnectOptions; properties: number }[] = [
    {
      // source.address, destination.port, connection.mtls, connection.tls_version, connection.uri_san_peer_certificate
      name: "admission by principal reads each of the five connection properties once",
      rule: "principal spiffe://cluster.local/ns/a/sa/api",
      warmUp: { principal: "spiffe://cluster.local/ns/a/sa/api" },
      measured: { principal: "spiffe://cluster.local/ns/a/sa/api" },
      properties: 5,
    },
    {
      // source.address, destination.port, connection.tls_version (absent: connection.mtls is not asked)
      name: "a plaintext admission reads three properties: no mTLS without TLS",
      rule: "ip 10.0.0.0/8",
      warmUp: { source: "10.1.2.3:40000" },
      measured: { source: "10.1.2.4:40000" },
      properties: 3,
    },
  ];
  for (const a of admissions) {
    it(a.name, async () => {
      const host = await hostWith(oneRule(a.rule));
      host.connect(a.warmUp);
      const before = reads(host);
      const c = host.connect(a.measured);
      expect(c.closed).toBe(false);
      expect(reads(host) - before).toBe(a.properties);
    });
  }

  it("a denial the host would not print, with no quarantine to count, reads no property", async () => {
    const host = await hostWith(oneRule("maxBytesIn 10"), { logLevel: "error" });
    const c = host.connect();
    const before = reads(host);
    expect(c.fromClient(bytes(11))).toBe(1);
    expect(c.closed).toBe(true);
    expect(host.counter("picoseg.denied.bytes-in")).toBe(1);
    expect(reads(host)).toBe(before);
  });
});
