// Who may connect: rule selection by from (principal, ipBlocks, notIpBlocks) and ports, in order.
import { describe, expect, it } from "vitest";
import { config, hostWith, oneRule } from "./helpers.js";

describe("rule selection", () => {
  it("a connection matching a rule's from and ports is allowed and counted", async () => {
    const host = await hostWith(oneRule("ip 10.1.0.0/16", "port 5432 5432"));
    const c = host.connect({ source: "10.1.2.3:40000", port: 5432 });
    expect(c.closed).toBe(false);
    expect(c.fromClient("hello")).toBe(0);
    expect(new TextDecoder().decode(c.deliveredToServer)).toBe("hello");
    expect(host.counter("picoseg.allowed")).toBe(1);
  });

  it("a source outside every rule's from is denied with `source`", async () => {
    const host = await hostWith(oneRule("ip 10.1.0.0/16"));
    const c = host.connect({ source: "10.2.0.1:40000" });
    expect(c.closed).toBe(true);
    expect(c.closedBy).toBe("filter");
    expect(c.closeReason).toBe("source");
    expect(host.counter("picoseg.denied.source")).toBe(1);
    expect(host.counter("picoseg.allowed")).toBe(0);
  });

  it("a matching source on a port no matching rule lists is denied with `port`", async () => {
    const host = await hostWith(config(
      "segment ns/a enforce", "rule db", "ip 10.1.0.0/16", "port 5432 5432",
      "rule web", "ip 10.9.0.0/16", "port 80 80",
    ));
    const c = host.connect({ source: "10.1.2.3:40000", port: 80 });
    expect(c.closeReason).toBe("port");
    expect(host.counter("picoseg.denied.port")).toBe(1);
  });

  it("port ranges are inclusive at both ends", async () => {
    const host = await hostWith(oneRule("port 8000 8100"));
    expect(host.connect({ port: 7999 }).closeReason).toBe("port");
    expect(host.connect({ port: 8000 }).closed).toBe(false);
    expect(host.connect({ port: 8100 }).closed).toBe(false);
    expect(host.connect({ port: 8101 }).closeReason).toBe("port");
  });

  it("a workload with no rule at all denies with `no-rule`", async () => {
    const host = await hostWith(config());
    expect(host.connect().closeReason).toBe("no-rule");
    expect(host.counter("picoseg.denied.no-rule")).toBe(1);
  });

  it("rules are tried in order: the first whose from and ports match governs", async () => {
    const host = await hostWith(config(
      "segment ns/a enforce",
      "rule small", "ip 10.1.2.0/24", "maxBytesIn 3",
      "rule big", "ip 10.1.0.0/16",
    ));
    const c = host.connect({ source: "10.1.2.3:1" });
    c.fromClient("abcd");
    expect(c.closeReason).toBe("bytes-in");
    expect(c.decisions()[0]!.rule).toBe("small");
    const d = host.connect({ source: "10.1.3.3:1" });
    d.fromClient("abcd");
    expect(d.closed).toBe(false);
  });

  it("notIpBlocks carve a hole out of ipBlocks", async () => {
    const host = await hostWith(oneRule("ip 10.1.0.0/16", "notip 10.1.9.0/24"));
    expect(host.connect({ source: "10.1.8.255:1" }).closed).toBe(false);
    expect(host.connect({ source: "10.1.9.0:1" }).closeReason).toBe("source");
    expect(host.connect({ source: "10.1.9.255:1" }).closeReason).toBe("source");
  });

  it("IPv6 sources match IPv6 blocks, bracketed with a port as Envoy writes them", async () => {
    const host = await hostWith(oneRule("ip ::1/128", "ip fd00:1:2::/48"));
    expect(host.connect({ source: "[::1]:40000" }).closed).toBe(false);
    expect(host.connect({ source: "[fd00:1:2:ffff::7]:1" }).closed).toBe(false);
    expect(host.connect({ source: "[fd00:1:3::7]:1" }).closeReason).toBe("source");
    expect(host.connect({ source: "[::2]:40000" }).closeReason).toBe("source");
  });

  it("an IPv6 block longer than /64 matches on the low half of the address too", async () => {
    const host = await hostWith(oneRule("ip fd00::/120"));
    expect(host.connect({ source: "[fd00::ff]:1" }).closed).toBe(false);
    expect(host.connect({ source: "[fd00::100]:1" }).closeReason).toBe("source");
  });

  it("an IPv4 block does not match an IPv6 source, but does match an IPv4-mapped one", async () => {
    const host = await hostWith(oneRule("ip 127.0.0.0/8"));
    expect(host.connect({ source: "[::1]:1" }).closeReason).toBe("source");
    expect(host.connect({ source: "[::ffff:127.0.0.1]:1" }).closed).toBe(false);
  });

  it("a /0 block admits every parseable source of its family", async () => {
    const host = await hostWith(oneRule("ip 0.0.0.0/0"));
    expect(host.connect({ source: "255.255.255.255:1" }).closed).toBe(false);
    expect(host.connect({ source: "[2001:db8::1]:1" }).closeReason).toBe("source");
  });

  it("principals: exact, prefix*, *suffix and * (any peer with a principal)", async () => {
    const host = await hostWith(config(
      "segment ns/a enforce",
      "rule exact", "principal spiffe://cluster.local/ns/payments/sa/api", "port 1 1",
      "rule prefix", "principal spiffe://cluster.local/ns/ops/*", "port 2 2",
      "rule suffix", "principal */sa/batch", "port 3 3",
      "rule any", "principal *", "port 4 4",
    ));
    expect(host.connect({ port: 1, principal: "spiffe://cluster.local/ns/payments/sa/api" }).closed).toBe(false);
    expect(host.connect({ port: 1, principal: "spiffe://cluster.local/ns/payments/sa/api2" }).closeReason).toBe("port");
    expect(host.connect({ port: 2, principal: "spiffe://cluster.local/ns/ops/sa/x" }).closed).toBe(false);
    expect(host.connect({ port: 3, principal: "spiffe://cluster.local/ns/q/sa/batch" }).closed).toBe(false);
    expect(host.connect({ port: 4, principal: "spiffe://x" }).closed).toBe(false);
    expect(host.connect({ port: 4 }).closeReason).toBe("source");
  });

  it("a principal without mTLS is not trusted", async () => {
    const host = await hostWith(oneRule("principal *"));
    const c = host.connect({ principal: "spiffe://x", mtls: false });
    c.fromClient("x"); // on TLS, admission by principal is decided at the first client bytes
    expect(c.closeReason).toBe("source");
  });

  it("fails closed when properties are absent: no source, no port", async () => {
    const host = await hostWith(config(
      "segment ns/a enforce", "rule ips", "ip 10.0.0.0/8", "port 1 1",
      "rule ports", "port 5432 5432",
    ));
    expect(host.connect({ source: null, port: 1 }).closeReason).toBe("port");
    expect(host.connect({ source: "10.0.0.1:1", port: null }).closeReason).toBe("port");
    expect(host.connect({ source: null, port: 5432 }).closed).toBe(false);
  });

  it("fails closed on malformed properties", async () => {
    const host = await hostWith(oneRule("ip 10.0.0.0/8", "port 1 65535"));
    expect(host.connect({ source: "10.0.0.300:1" }).closeReason).toBe("source");
    expect(host.connect({ source: "not an address" }).closeReason).toBe("source");
    expect(host.connect({ properties: { "destination.port": Uint8Array.of(1, 2) } }).closeReason).toBe("port");
    expect(host.connect({ source: "10.0.0.1", port: 1 }).closed).toBe(false); // bare address, no port
  });
});

describe("no configuration", () => {
  it("without a configuration every connection is denied with `no-config`", async () => {
    const host = await hostWith(null);
    const c = host.connect();
    expect(c.closeReason).toBe("no-config");
    expect(host.counter("picoseg.denied.no-config")).toBe(1);
  });

  it("an unparsable configuration denies everything, and the parse error is logged once with its line", async () => {
    const host = await hostWith("picoseg 1\nsegment ns/a enforce\nrule r\nport 99999 1\nend\n");
    expect(host.logs("error").filter((l) => l.includes("line 4"))).toHaveLength(1);
    host.connect();
    host.connect();
    expect(host.counter("picoseg.denied.no-config")).toBe(2);
    expect(host.logs("error")).toHaveLength(1);
  });

  it.each([
    ["a truncated string (no end)", "picoseg 1\nsegment ns/a enforce\nrule r\n"],
    ["a wrong schema version", "picoseg 2\nend\n"],
    ["a rule before any segment", "picoseg 1\nrule r\nend\n"],
    ["an attribute before any rule", "picoseg 1\nsegment ns/a enforce\nport 1 1\nend\n"],
    ["an unknown keyword", "picoseg 1\nsegment ns/a enforce\nrule r\ncolour blue\nend\n"],
    ["a CIDR with host bits", "picoseg 1\nsegment ns/a enforce\nrule r\nip 10.0.0.1/8\nend\n"],
    ["an IPv6 CIDR with host bits", "picoseg 1\nsegment ns/a enforce\nrule r\nip fd00::1/120\nend\n"],
    ["a schedule without its tz", "picoseg 1\nsegment ns/a enforce\nrule r\nschedule 3\nend\n"],
    ["content after end", "picoseg 1\nend\nsegment ns/a enforce\n"],
    ["a number past 2^53", "picoseg 1\nsegment ns/a enforce\nrule r\nmaxBytesIn 9007199254740993\nend\n"],
    ["binary garbage", "\u0000\u00ff\u0001picoseg 1\n\u0000"],
  ])("rejects %s as no-config", async (_name, cfg) => {
    const host = await hostWith(cfg);
    expect(host.connect().closeReason).toBe("no-config");
  });

  it("a rejected reconfiguration drops the previous good configuration", async () => {
    const host = await hostWith(oneRule());
    expect(host.connect().closed).toBe(false);
    expect(host.reconfigure("picoseg 1\ngarbage\nend\n")).toBe(1);
    expect(host.connect().closeReason).toBe("no-config");
  });

  it("the empty policy (header and end only) denies with no-rule, not no-config", async () => {
    const host = await hostWith("picoseg 1\n\nend\n");
    expect(host.connect().closeReason).toBe("no-rule");
  });
});

describe("callback order", () => {
  it("data arriving before proxy_on_new_connection is judged by the same admission first", async () => {
    const host = await hostWith(oneRule("ip 10.1.0.0/16"));
    const denied = host.connect({ source: "10.2.0.1:1", noNewConnection: true });
    expect(denied.fromClient("x")).toBe(1);
    expect(denied.closeReason).toBe("source");
    expect(denied.deliveredToServer.length).toBe(0);
    const allowed = host.connect({ source: "10.1.0.1:1", noNewConnection: true });
    expect(allowed.fromClient("x")).toBe(0);
    expect(host.counter("picoseg.allowed")).toBe(1);
  });
});
