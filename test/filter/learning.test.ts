// Learning mode in the filter: bounded aggregates per source, port, protocol and hour, flushed
// from the tick as one gRPC call to the configured cluster; it never changes a decision.
import { describe, expect, it } from "vitest";
import { parseReport } from "../../xds-server/src/telemetry/report.js";
import { type ProxyReport } from "../../api/report.js";
import type { FilterHost } from "../../testkit/filter-host/index.js";
import { bytes, config, hostWith, MONDAY_NOON_UTC, pgMessage } from "./helpers.js";

const OBSERVE = "observe xds 5000 64";
const API = "spiffe://cluster.local/ns/payments/sa/api";
/** The first tick (500 ms) starts the 5 s interval: the first flush comes 5.5 s after start. */
const FIRST_FLUSH_MS = 5500;
const learning = (...lines: string[]) => config(OBSERVE, "segment payments/db audit", "rule all", ...lines);

function takeReport(host: FilterHost): ProxyReport {
  expect(host.grpcCalls).toHaveLength(1);
  const call = host.grpcCalls[0]!;
  expect(call).toMatchObject({ cluster: "xds", service: "picoseg.observe.v1.Observations", method: "Report" });
  host.answerGrpc(call.token, 0);
  return parseReport(Buffer.from(call.body));
}

describe("learning mode", () => {
  it("aggregates finished connections per source, port, protocol and start hour and reports them every interval", async () => {
    const host = await hostWith(learning("protocol postgres", "protocol http1"), { nodeId: "db-1", nowMs: MONDAY_NOON_UTC });
    for (let i = 0; i < 3; i++) {
      const c = host.connect({ source: `10.1.2.3:${4000 + i}`, port: 5432, principal: API, mtls: true });
      c.fromClient(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f));
      c.fromClient(bytes(100 * (i + 1)));
      c.fromServer(bytes(1000));
      host.advance(200 * (i + 1));
      c.closeFromClient();
    }
    const other = host.connect({ source: "10.9.9.9:5000", port: 8080 });
    other.fromClient("GET / HTTP/1.1\r\n\r\n");
    other.closeFromClient();
    const open = host.connect({ source: "10.7.7.7:1", port: 5432 }); // still open: not reported yet
    open.fromClient(bytes(10));
    expect(host.grpcCalls).toHaveLength(0);
    host.advance(5000);
    const r = takeReport(host);
    expect(r).toMatchObject({ v: 1, node: "db-1", seq: 1, dropped: { conns: 0, denials: 0 } });
    expect(r.conns).toHaveLength(2);
    const pg = r.conns.find((c) => c.port === 5432)!;
    expect(pg).toMatchObject({ principal: API, ip: "10.1.2.3", proto: "postgres", hour: 12, n: 3 });
    expect(pg.in).toEqual([8 * 3 + 600, 108, 308]);
    expect(pg.out).toEqual([3000, 1000, 1000]);
    expect(pg.msg).toEqual([1000, 1000]);
    expect(pg.dur).toEqual([200, 600]);
    expect(r.conns.find((c) => c.port === 8080)).toMatchObject({ principal: "", ip: "10.9.9.9", proto: "http1", n: 1 });
    // Nothing new, nothing sent; the open connection comes with its end.
    host.advance(5000);
    expect(host.grpcCalls).toHaveLength(0);
    open.closeFromClient();
    host.advance(5000);
    expect(takeReport(host)).toMatchObject({ seq: 2, conns: [{ ip: "10.7.7.7", n: 1 }] });
    expect(host.counter("picoseg.observe.reports_sent")).toBe(2);
  });

  it("reports denials by reason, source and mode", async () => {
    const host = await hostWith(config(OBSERVE, "segment payments/db enforce", "rule api", "ip 10.1.0.0/16", "port 5432 5432", "maxBytesIn 10"), { nodeId: "db-1" });
    host.connect({ source: "10.9.9.9:1", port: 5432 });
    host.connect({ source: "10.9.9.9:2", port: 5432 });
    const c = host.connect({ source: "10.1.2.3:3", port: 5432 });
    c.fromClient(bytes(11));
    host.advance(FIRST_FLUSH_MS);
    const r = takeReport(host);
    expect(r.denials.sort((a, b) => a.reason.localeCompare(b.reason))).toEqual([
      { reason: "bytes-in", principal: "", ip: "10.1.2.3", port: 5432, mode: "enforce", n: 1 },
      { reason: "source", principal: "", ip: "10.9.9.9", port: 5432, mode: "enforce", n: 2 },
    ]);
    expect(r.conns).toEqual([expect.objectContaining({ ip: "10.1.2.3", n: 1, in: [11, 11, 11] })]);
  });

  it("sends a body that was not accepted again, unchanged, at the next interval", async () => {
    const host = await hostWith(learning(), { nodeId: "db-1" });
    host.connect({ source: "10.1.2.3:1" }).closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    const first = host.grpcCalls[0]!;
    host.answerGrpc(first.token, 14); // UNAVAILABLE
    expect(host.counter("picoseg.observe.reports_failed")).toBe(1);
    host.connect({ source: "10.4.4.4:1" }).closeFromClient();
    host.advance(5000);
    const again = host.grpcCalls[0]!;
    expect(Buffer.from(again.body).toString()).toBe(Buffer.from(first.body).toString());
    host.answerGrpc(again.token, 0);
    host.advance(5000);
    expect(takeReport(host)).toMatchObject({ seq: 2, conns: [{ ip: "10.4.4.4" }] });
  });

  it("names its stream by boot and a random instance, so two workers booted in the same µs differ", async () => {
    const firstReport = async (): Promise<ProxyReport> => {
      const host = await hostWith(learning(), { nodeId: "db-1", nowMs: MONDAY_NOON_UTC });
      host.connect({ source: "10.1.2.3:1" }).closeFromClient();
      host.advance(FIRST_FLUSH_MS);
      return takeReport(host);
    };
    const [a, b] = [await firstReport(), await firstReport()];
    expect(a.boot).toBe(b.boot);
    expect(a.instance).not.toBe(b.instance);
  });

  it("reports instance 0 when the host has no randomness, and keeps working", async () => {
    const host = await hostWith(learning(), { nodeId: "db-1" });
    host.failing.add("random_get");
    host.connect({ source: "10.1.2.3:1" }).closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    expect(takeReport(host)).toMatchObject({ instance: 0, seq: 1, conns: [{ ip: "10.1.2.3" }] });
  });

  it("sends a body again from the new root when the root that was sending it is deleted, as Envoy cancels its call", async () => {
    const host = await hostWith(learning(), { nodeId: "db-1" });
    host.connect({ source: "10.1.2.3:1" }).closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    const first = host.grpcCalls[0]!;
    // A policy edit: a new root with the new configuration, then the old one goes.
    const next = host.addRoot({ config: learning("port 5432 5432") });
    host.deleteRoot(host.root);
    expect(host.grpcCalls).toHaveLength(0);
    host.advance(5000);
    expect(host.grpcCalls).toHaveLength(1);
    const again = host.grpcCalls[0]!;
    expect(again.root).toBe(next.id);
    expect(Buffer.from(again.body).toString()).toBe(Buffer.from(first.body).toString());
    host.answerGrpc(again.token, 0);
    expect(host.counter("picoseg.observe.reports_sent")).toBe(1);
  });

  it("drops a body the server refused for what it is (INVALID_ARGUMENT), and sends the next interval's", async () => {
    const host = await hostWith(learning(), { nodeId: "db-1" });
    host.connect({ source: "10.1.2.3:1" }).closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    host.answerGrpc(host.grpcCalls[0]!.token, 3);
    host.connect({ source: "10.4.4.4:1" }).closeFromClient();
    host.advance(5000);
    expect(takeReport(host)).toMatchObject({ seq: 2, conns: [{ ip: "10.4.4.4" }] });
  });

  it("keeps trying when the cluster is unknown to the host, and traffic flows meanwhile", async () => {
    const host = await hostWith(learning(), { nodeId: "db-1" });
    host.failing.add("proxy_grpc_call");
    const c = host.connect({ source: "10.1.2.3:1" });
    expect(c.fromClient(bytes(10))).toBe(0);
    c.closeFromClient();
    host.advance(FIRST_FLUSH_MS + 5000);
    expect(host.counter("picoseg.observe.reports_failed")).toBe(2);
    host.failing.delete("proxy_grpc_call");
    host.advance(5000);
    expect(takeReport(host)).toMatchObject({ seq: 1, conns: [{ ip: "10.1.2.3" }] });
  });

  it("never changes a decision: the same traffic gives the same verdicts and counters with it on and off", async () => {
    const rule = ["ip 10.1.0.0/16", "port 5432 5432", "maxBytesIn 100", "maxMessageBytes 50"];
    const run = async (observe: boolean) => {
      const host = await hostWith(config(...(observe ? [OBSERVE] : []), "segment payments/db enforce", "rule r", ...rule), { nodeId: "n" });
      const verdicts: Array<number | null | string> = [];
      for (let i = 0; i < 20; i++) {
        const c = host.connect({ source: `10.${i % 3}.0.${i}:1`, port: i % 4 === 0 ? 22 : 5432 });
        verdicts.push(c.closeReason ?? "open", c.fromClient(bytes(i * 7)), c.closeReason ?? "open");
        c.closeFromClient();
      }
      const counters = host.metricNames().filter((m) => !m.startsWith("picoseg.observe.")).map((m) => [m, host.counter(m)]);
      return { verdicts, counters };
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it("with observation off, makes no call", async () => {
    const host = await hostWith(config("segment payments/db enforce", "rule r", "ip 10.1.0.0/16"), { nodeId: "db-1" });
    const c = host.connect({ source: "10.1.2.3:1" });
    c.fromClient(bytes(10));
    c.closeFromClient();
    host.advance(3 * FIRST_FLUSH_MS);
    expect(host.grpcCalls).toHaveLength(0);
    expect(host.hostCalls.get("proxy_grpc_call") ?? 0).toBe(0);
    expect(host.metricNames().filter((m) => m.startsWith("picoseg.observe."))).toEqual([]);
  });

  it("stays within its table at 100,000 distinct sources, counting what it had to drop", async () => {
    const host = await hostWith(learning(), { nodeId: "db-1" });
    host.advance(1);
    const before = host.memoryBytes();
    for (let i = 0; i < 100_000; i++) {
      const c = host.connect({ source: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1` });
      c.closeFromClient();
    }
    const grown = host.memoryBytes() - before;
    host.advance(FIRST_FLUSH_MS);
    const r = takeReport(host);
    expect(r.conns.length).toBeLessThanOrEqual(64);
    expect(r.conns.reduce((a, c) => a + c.n, 0) + r.dropped.conns).toBe(100_000);
    expect(host.counter("picoseg.observe.dropped")).toBe(r.dropped.conns);
    expect(grown).toBeLessThan(1024 * 1024);
  });

  it.each([["observe xds"], ["observe xds 0 64"], ["observe xds 5000 0"], ["observe xds 5s 64"]])("rejects `%s` (fail closed: no-config)", async (line) => {
    const host = await hostWith(config(line, "segment payments/db audit", "rule all"));
    expect(host.connect().closeReason).toBe("no-config");
    expect(host.logs("error").join("\n")).toMatch(/configuration rejected.*observe/);
  });
});

describe("denials-only reporting (`observe … denials`)", () => {
  it("reports denials by reason and source, and no connection", async () => {
    const host = await hostWith(config("observe xds 5000 64 denials", "segment pay/db enforce", "rule api", "ip 10.1.0.0/16"), { nodeId: "db-1" });
    host.connect({ source: "10.9.9.9:1" });
    const ok = host.connect({ source: "10.1.2.3:1" });
    ok.fromClient(bytes(10));
    ok.closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    const r = takeReport(host);
    expect(r.conns).toEqual([]);
    expect(r.denials).toEqual([{ reason: "source", principal: "", ip: "10.9.9.9", port: 5432, mode: "enforce", n: 1 }]);
  });
});

describe("the largest message under the rule's framing", () => {
  const LP = "framing lengthPrefixed 1 4 big -4";
  /** One connection from 10.1.2.3 to 5432 that sends `reads`, closed, then the interval's report. */
  async function measured(ruleLines: string[], reads: Uint8Array[], segment = "enforce"): Promise<ProxyReport["conns"]> {
    const host = await hostWith(config(OBSERVE, `segment payments/db ${segment}`, "rule r", ...ruleLines), { nodeId: "db-1" });
    const c = host.connect({ source: "10.1.2.3:1", port: 5432 });
    for (const read of reads) c.fromClient(read);
    c.closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    return takeReport(host).conns;
  }

  it("is a message's declared length under lengthPrefixed, not the largest read", async () => {
    // Ten 55-byte messages in one 550-byte read, then a 3,005-byte one split over three reads.
    const big = pgMessage(3000);
    const conns = await measured(["maxMessageBytes 65536", LP], [
      Buffer.concat(Array.from({ length: 10 }, () => pgMessage(50))),
      big.subarray(0, 3), big.subarray(3, 1000), big.subarray(1000),
    ]);
    expect(conns).toEqual([expect.objectContaining({ n: 1, msg: [3005, 3005], framing: "lengthPrefixed 1 4 big -4", in: [3555, 3555, 3555] })]);
  });

  it("counts a message split over reads once, at its declared length, even before all of it came", async () => {
    const m = pgMessage(2000);
    const conns = await measured(["maxMessageBytes 65536", LP], [m.subarray(0, 2), m.subarray(2, 700)]);
    expect(conns[0]).toMatchObject({ msg: [2005, 2005], framing: "lengthPrefixed 1 4 big -4" });
  });

  it("stays the largest read under chunk framing and without a message limit", async () => {
    const reads = [Buffer.concat([pgMessage(50), pgMessage(50)]), pgMessage(10)];
    expect((await measured(["maxMessageBytes 65536", "framing chunk"], reads))[0]).toMatchObject({ msg: [110, 110], framing: "chunk" });
    expect((await measured([], reads))[0]).toMatchObject({ msg: [110, 110], framing: "chunk" });
    // A framing line without a limit frames nothing (the compiler never writes one).
    expect((await measured([LP], reads))[0]).toMatchObject({ msg: [110, 110], framing: "chunk" });
  });

  it("takes the protocol framings' lengths (kafka: int32 size + 4)", async () => {
    const request = (size: number) => {
      const b = Buffer.alloc(4 + size, 0);
      b.writeUInt32BE(size, 0);
      b.writeUInt16BE(0xffff, 12); // null client_id
      return b;
    };
    const conns = await measured(["protocol kafka", "maxMessageBytes 65536", "framing kafka"], [request(20), Buffer.concat([request(700), request(30)])]);
    expect(conns[0]).toMatchObject({ proto: "kafka", msg: [704, 704], framing: "kafka" });
  });

  it("takes delimited lines with their delimiter, a line split over reads once", async () => {
    const conns = await measured(["maxMessageBytes 65536", "framing delimited 0d0a"], [Buffer.from("a\r\nbbbb"), Buffer.from("bbbb\r"), Buffer.from("\ncc\r\n")]);
    expect(conns[0]).toMatchObject({ msg: [10, 10], framing: "delimited 0d0a" });
  });

  it("in audit mode, keeps the message that broke the limit and measures nothing past it (the boundaries are lost)", async () => {
    // After the violation the filter resynchronises at the next read: bytes that are not a
    // message start would declare 4 GiB.
    const conns = await measured(["maxMessageBytes 100", LP], [pgMessage(500), Uint8Array.of(0x51, 0xff, 0xff, 0xff, 0xff, 1, 2, 3)], "audit");
    expect(conns[0]).toMatchObject({ msg: [505, 505], framing: "lengthPrefixed 1 4 big -4" });
  });

  it("keeps measures taken under different framings apart, for the same source, port and protocol", async () => {
    const host = await hostWith(config(OBSERVE, "segment payments/db enforce", "rule r", "maxMessageBytes 65536", LP), { nodeId: "db-1" });
    const framed = host.connect({ source: "10.1.2.3:1", port: 5432 });
    framed.fromClient(Buffer.concat([pgMessage(10), pgMessage(10)]));
    framed.closeFromClient();
    host.reconfigure(config(OBSERVE, "segment payments/db enforce", "rule r"));
    const reads = host.connect({ source: "10.1.2.3:2", port: 5432 });
    reads.fromClient(Buffer.concat([pgMessage(10), pgMessage(10)]));
    reads.closeFromClient();
    host.advance(FIRST_FLUSH_MS);
    const conns = takeReport(host).conns.map((c) => [c.framing, c.n, c.msg]).sort();
    expect(conns).toEqual([["chunk", 1, [30, 30]], ["lengthPrefixed 1 4 big -4", 1, [15, 15]]]);
  });
});
