// perSource limits over a window, shared across connections and Envoy workers; quarantine of repeat offenders.
import { describe, expect, it } from "vitest";
import { FilterHost } from "../../testkit/filter-host/index.js";
import { bytes, config, hostWith } from "./helpers.js";

const rule = (ps: string, ...more: string[]) => config("segment ns/db enforce", "rule api", "ip 10.0.0.0/8", `perSource ${ps}`, ...more);

describe("perSource maxConnections", () => {
  it("the connection past maxConnections in the window is denied with source-connections", async () => {
    const host = await hostWith(rule("60 - 3 -"));
    for (let i = 0; i < 3; i++) expect(host.connect({ source: `10.0.0.1:${4000 + i}` }).closed).toBe(false);
    const fourth = host.connect({ source: "10.0.0.1:4999" });
    expect(fourth.closeReason).toBe("source-connections");
    expect(host.counter("picoseg.denied.source-connections")).toBe(1);
    // another source has its own count
    expect(host.connect({ source: "10.0.0.2:4000" }).closed).toBe(false);
  });

  it("counts connections, not concurrency: closing one does not free a slot; the window does", async () => {
    const host = await hostWith(rule("60 - 1 -"));
    host.connect({ source: "10.0.0.1:1" }).closeFromClient();
    expect(host.connect({ source: "10.0.0.1:2" }).closeReason).toBe("source-connections");
    host.advance(60_000);
    expect(host.connect({ source: "10.0.0.1:3" }).closed).toBe(false);
  });

  it("is shared across Envoy worker threads (two VMs, one shared data store)", async () => {
    const w1 = await hostWith(rule("60 - 2 -"));
    const w2 = await FilterHost.start({ config: rule("60 - 2 -"), shareWith: w1 });
    expect(w1.connect({ source: "10.0.0.1:1" }).closed).toBe(false);
    expect(w2.connect({ source: "10.0.0.1:2" }).closed).toBe(false);
    expect(w1.connect({ source: "10.0.0.1:3" }).closeReason).toBe("source-connections");
    expect(w2.connect({ source: "10.0.0.1:4" }).closeReason).toBe("source-connections");
  });

  it("identity is the principal when there is one, so one workload is one source whatever its IPs", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", "principal spiffe://td/ns/a/sa/api", "perSource 60 - 1 -"));
    expect(host.connect({ source: "10.0.0.1:1", principal: "spiffe://td/ns/a/sa/api" }).closed).toBe(false);
    expect(host.connect({ source: "10.0.0.2:1", principal: "spiffe://td/ns/a/sa/api" }).closeReason).toBe("source-connections");
  });
});

describe("perSource maxDistinctPorts", () => {
  it("a source may use maxPorts distinct ports; a new port past that is source-ports", async () => {
    const host = await hostWith(rule("60 - - 2"));
    expect(host.connect({ port: 80 }).closed).toBe(false);
    expect(host.connect({ port: 443 }).closed).toBe(false);
    expect(host.connect({ port: 80 }).closed).toBe(false); // a port already used
    expect(host.connect({ port: 8080 }).closeReason).toBe("source-ports");
    expect(host.counter("picoseg.denied.source-ports")).toBe(1);
  });
});

describe("perSource maxBytes", () => {
  it("counts both directions of all the source's connections", async () => {
    const host = await hostWith(rule("3600 100 - -"));
    const a = host.connect({ source: "10.0.0.1:1" });
    const b = host.connect({ source: "10.0.0.1:2" });
    expect(a.fromClient(bytes(40))).toBe(0);
    expect(b.fromServer(bytes(40))).toBe(0);
    expect(a.fromServer(bytes(20))).toBe(0); // exactly 100
    expect(b.fromClient(bytes(1))).toBe(1);
    expect(b.closeReason).toBe("source-bytes");
    expect(b.deliveredToServer.length).toBe(0);
    expect(a.closed).toBe(false);
    expect(host.counter("picoseg.denied.source-bytes")).toBe(1);
  });

  it("the read that would pass the source's budget is not counted against it", async () => {
    const host = await hostWith(rule("3600 10 - -"));
    const a = host.connect();
    a.fromClient(bytes(11));
    expect(a.closeReason).toBe("source-bytes");
    const b = host.connect();
    expect(b.fromClient(bytes(10))).toBe(0);
    expect(b.closed).toBe(false);
  });

  it("the byte window resets after `window` seconds", async () => {
    const host = await hostWith(rule("60 10 - -"));
    const a = host.connect();
    a.fromClient(bytes(10));
    host.advance(60_000);
    expect(a.fromClient(bytes(10))).toBe(0);
    expect(a.closed).toBe(false);
  });
});

describe("perSource maxBytes leases (far from the limit, bytes are reserved ahead in 64 KiB leases)", () => {
  const MiB = 1024 * 1024;

  it("a source far below its budget does not touch shared data on every read", async () => {
    const host = await hostWith(rule(`3600 ${1024 * MiB} - -`));
    const c = host.connect();
    const writesBefore = host.hostCalls.get("proxy_set_shared_data") ?? 0;
    for (let i = 0; i < 1000; i++) c.fromClient(bytes(1024));
    const writes = (host.hostCalls.get("proxy_set_shared_data") ?? 0) - writesBefore;
    expect(writes).toBeLessThanOrEqual(Math.ceil((1000 * 1024) / 65536) + 1);
    expect(c.closed).toBe(false);
  });

  it("leases never let a source carry more than maxBytes, across connections and workers", async () => {
    const budget = 8 * MiB;
    const w1 = await hostWith(rule(`3600 ${budget} - -`));
    const w2 = await FilterHost.start({ config: rule(`3600 ${budget} - -`), shareWith: w1 });
    const conns = [w1.connect(), w2.connect(), w1.connect(), w2.connect()];
    const chunk = bytes(10_000);
    for (let round = 0; round < 2000; round++) {
      for (const c of conns) c.fromClient(chunk);
    }
    const delivered = conns.reduce((n, c) => n + c.deliveredToServer.length, 0);
    expect(delivered).toBeLessThanOrEqual(budget);
    // at most the unspent leases of the other connections go unused
    expect(delivered).toBeGreaterThan(budget - 4 * 65536 - 4 * 10_000);
    expect(conns.every((c) => c.closeReason === "source-bytes")).toBe(true);
  });

  it("an unspent lease goes back to the source's budget when its connection ends", async () => {
    const budget = 5 * MiB;
    const host = await hostWith(rule(`3600 ${budget} - -`));
    const a = host.connect();
    a.fromClient(bytes(1000)); // takes 1000 bytes and a 64 KiB lease
    a.closeFromClient();
    const b = host.connect();
    let sent = 0;
    while (!b.closed) { b.fromClient(bytes(1000)); sent += 1000; }
    expect(b.deliveredToServer.length).toBe(budget - 1000 - ((budget - 1000) % 1000));
  });

  it("the lease goes back at close without a clock read: the clock as last read tells its window", async () => {
    const budget = 5 * MiB;
    const host = await hostWith(rule(`60 ${budget} - -`));
    const a = host.connect();
    a.fromClient(bytes(1000)); // window 1
    host.advance(61_000);
    a.fromClient(bytes(1000)); // window 2, begun after the connection: 1000 bytes and a lease
    const clockReads = (): number => host.hostCalls.get("proxy_get_current_time_nanoseconds") ?? 0;
    const before = clockReads();
    a.closeFromClient();
    expect(clockReads()).toBe(before);
    const b = host.connect();
    while (!b.closed) b.fromClient(bytes(1000));
    expect(b.deliveredToServer.length).toBe(budget - 1000 - ((budget - 1000) % 1000));
  });

  it("a lease given back after its window ended (clock last read before the end) does not carry into the next window", async () => {
    const budget = 5 * MiB;
    const host = await hostWith(rule(`60 ${budget} - -`));
    const a = host.connect();
    a.fromClient(bytes(1000)); // 1000 bytes and a lease in window 1
    host.failing.add("proxy_get_current_time_nanoseconds"); // the ticks cannot read the clock: it stays before the end
    host.advance(61_000);
    a.closeFromClient(); // the lease goes back into window 1's record, which has in fact ended
    host.failing.delete("proxy_get_current_time_nanoseconds");
    const b = host.connect(); // a fresh window: the whole budget
    while (!b.closed) b.fromClient(bytes(1000));
    expect(b.deliveredToServer.length).toBe(budget - (budget % 1000));
  });

  it("the shared record counts leased bytes, so a new window starts from zero for everyone", async () => {
    const host = await hostWith(rule(`60 ${10 * MiB} - -`));
    const c = host.connect();
    c.fromClient(bytes(5 * MiB));
    host.advance(60_000);
    expect(c.fromClient(bytes(10 * MiB))).toBe(0);
    expect(c.fromClient(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("source-bytes");
  });
});

describe("quarantine", () => {
  const q = config(
    "segment ns/db enforce", "quarantine 3 600 900",
    "rule api", "ip 10.0.0.0/8", "port 5432 5432", "maxBytesIn 10",
  );

  it("after `strikes` violations within the window the source is denied with quarantined for `duration`", async () => {
    const host = await hostWith(q);
    for (let i = 0; i < 3; i++) {
      const c = host.connect({ source: "10.0.0.1:1" });
      c.fromClient(bytes(11));
      expect(c.closeReason).toBe("bytes-in");
    }
    const next = host.connect({ source: "10.0.0.1:1" });
    expect(next.closeReason).toBe("quarantined");
    expect(host.counter("picoseg.denied.quarantined")).toBe(1);
    expect(host.connect({ source: "10.0.0.2:1" }).closed).toBe(false); // other sources unaffected
    host.advance(899_000);
    expect(host.connect({ source: "10.0.0.1:1" }).closeReason).toBe("quarantined");
    host.advance(1_000);
    expect(host.connect({ source: "10.0.0.1:1" }).closed).toBe(false);
  });

  it("port probing counts as strikes", async () => {
    const host = await hostWith(q);
    for (let p = 1; p <= 3; p++) expect(host.connect({ port: p }).closeReason).toBe("port");
    expect(host.connect({ port: 5432 }).closeReason).toBe("quarantined");
  });

  it("strikes older than the window do not count", async () => {
    const host = await hostWith(q);
    host.connect({ port: 1 });
    host.connect({ port: 2 });
    host.advance(600_000);
    host.connect({ port: 3 });
    expect(host.connect({ port: 5432 }).closed).toBe(false);
  });

  it("a quarantine is shared across workers", async () => {
    const w1 = await hostWith(q);
    const w2 = await FilterHost.start({ config: q, shareWith: w1 });
    for (let p = 1; p <= 3; p++) w1.connect({ port: p });
    expect(w2.connect({ port: 5432 }).closeReason).toBe("quarantined");
  });
});

describe("record keys", () => {
  it("each segment, rule and source has its own records: picoseg/ps/<segment>/<rule>/#<slot>, picoseg/q/<segment>/<identity>", async () => {
    const host = await hostWith(config(
      "segment ns/a enforce", "quarantine 3 600 900",
      "rule one", "port 1 1", "perSource 60 - 1 -",
      "rule two", "port 2 2", "perSource 60 - 1 -",
      "segment ns/b enforce", "quarantine 3 600 900",
      "rule one", "port 3 3", "perSource 60 - 1 -",
    ));
    // Alternating rules, segments and sources: each first connection is admitted, each second one is its record's second.
    for (const [port, source] of [[1, "10.0.0.1"], [2, "10.0.0.1"], [3, "10.0.0.1"], [1, "10.0.0.2"], [3, "10.0.0.2"]] as const) {
      expect(host.connect({ port, source: `${source}:1000` }).closed, `port ${port} from ${source}`).toBe(false);
    }
    for (const port of [1, 2, 3]) expect(host.connect({ port, source: "10.0.0.1:1001" }).closeReason).toBe("source-connections");
    const keys = [...host.sharedData().keys()];
    expect([...new Set(keys.filter((k) => k.startsWith("picoseg/ps/")).map((k) => k.replace(/#\d+$/, "#")))].sort())
      .toEqual(["picoseg/ps/ns/a/one/#", "picoseg/ps/ns/a/two/#", "picoseg/ps/ns/b/one/#"]);
    // The three denials of 10.0.0.1 are strikes in both segments.
    expect(keys.filter((k) => k.startsWith("picoseg/q/")).sort()).toEqual(["picoseg/q/ns/a/10.0.0.1", "picoseg/q/ns/b/10.0.0.1"]);
  });
});
