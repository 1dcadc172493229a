// Revocation: a policy change that no longer admits a live connection closes it within one second.
import { describe, expect, it } from "vitest";
import { bytes, config, hostWith } from "./helpers.js";

const v1 = config("generation 1", "segment ns/db enforce", "rule api", "ip 10.0.0.0/8", "port 5432 5432");
/** A configuration of generation g (the control plane increases it on every change). */
const gen = (g: number, ...lines: string[]) => config(`generation ${g}`, ...lines);

describe("revocation on a new plugin configuration (a new root context, as Envoy does on an ECDS update)", () => {
  it("closes live connections the new configuration no longer admits, leaves the others alone", async () => {
    const host = await hostWith(v1);
    const kept = host.connect({ source: "10.1.0.1:1" });
    const cut = host.connect({ source: "10.2.0.1:1" });
    host.addRoot({ config: gen(2, "segment ns/db enforce", "rule api", "ip 10.1.0.0/16", "port 5432 5432") });
    host.advance(1000);
    expect(cut.closed).toBe(true);
    expect(cut.closeReason).toBe("revoked");
    expect(kept.closed).toBe(false);
    expect(kept.fromClient("still here")).toBe(0);
    expect(host.counter("picoseg.denied.revoked")).toBe(1);
    // new connections follow the new configuration
    expect(host.connect({ source: "10.2.0.1:2" }).closeReason).toBe("source");
  });

  it("a removed or renamed rule revokes the connections it governed", async () => {
    const host = await hostWith(gen(1, "segment ns/db enforce", "rule api", "port 5432 5432", "rule batch", "port 6000 6000"));
    const api = host.connect({ port: 5432 });
    const batch = host.connect({ port: 6000 });
    host.addRoot({ config: gen(2, "segment ns/db enforce", "rule api", "port 5432 5432", "rule batch-v2", "port 6000 6000") });
    host.advance(1000);
    expect(api.closed).toBe(false);
    expect(batch.closeReason).toBe("revoked");
  });

  it("a port dropped from the governing rule revokes, a protocol no longer listed revokes", async () => {
    const host = await hostWith(gen(1, "segment ns/db enforce", "rule api", "port 5432 5433", "protocol postgres", "protocol http1"));
    const a = host.connect({ port: 5432 });
    const b = host.connect({ port: 5433 });
    a.fromClient("GET / HTTP/1.1\r\n");
    b.fromClient(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f));
    host.addRoot({ config: gen(2, "segment ns/db enforce", "rule api", "port 5432 5433", "protocol postgres") });
    host.advance(1000);
    expect(a.closeReason).toBe("revoked");
    expect(b.closed).toBe(false);
  });

  it("an unparsable new configuration revokes everything (fail closed)", async () => {
    const host = await hostWith(v1);
    const c = host.connect();
    host.addRoot({ config: "picoseg 1\ngeneration 2\nnonsense\n" });
    host.advance(1000);
    expect(c.closeReason).toBe("revoked");
  });

  it("another filter instance sharing the VM and plugin name, with its own configuration, does not revoke (no newer generation)", async () => {
    const host = await hostWith(config("segment ns/loopback enforce", "rule loopback", "ip 127.0.0.1/32"));
    const c = host.connect({ source: "127.0.0.1:1" });
    const other = host.addRoot({ config: config("segment ns/cache enforce", "rule redis-only", "protocol redis") });
    const d = host.connect({ root: other });
    d.fromClient("*1\r\n$4\r\nPING\r\n");
    host.advance(3000);
    expect(c.closed).toBe(false);
    expect(d.closed).toBe(false);
    expect(host.counter("picoseg.denied.revoked")).toBe(0);
  });

  it("an older or equal generation never revokes a newer one's connections", async () => {
    const host = await hostWith(gen(5, "segment ns/db enforce", "rule api", "port 5432 5432"));
    const c = host.connect();
    host.addRoot({ config: gen(5, "segment ns/db enforce", "rule api", "port 1 1") });
    host.addRoot({ config: gen(4, "segment ns/db enforce", "rule api", "port 1 1") });
    host.advance(2000);
    expect(c.closed).toBe(false);
  });

  it("a configuration for another plugin name does not touch these connections", async () => {
    const host = await hostWith(v1);
    const c = host.connect();
    host.addRoot({ config: gen(2), pluginName: "other" });
    host.advance(2000);
    expect(c.closed).toBe(false);
  });

  it("audit segments report a revocation without closing", async () => {
    const host = await hostWith(gen(1, "segment ns/db audit", "rule api", "port 5432 5432"));
    const c = host.connect();
    host.addRoot({ config: gen(2, "segment ns/db audit", "rule api", "port 1 1") });
    host.advance(3000);
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.audit.revoked")).toBe(1);
  });

  it("the old root keeps enforcing its own limits on connections still admitted", async () => {
    const host = await hostWith(gen(1, "segment ns/db enforce", "rule api", "maxBytesIn 10"));
    const c = host.connect();
    host.addRoot({ config: gen(2, "segment ns/db enforce", "rule api", "maxBytesIn 1000") });
    host.advance(1000);
    c.fromClient(bytes(11));
    expect(c.closeReason).toBe("bytes-in");
  });
});

describe("revocation on a reconfiguration of the same root context", () => {
  it("revokes what is no longer admitted and moves the rest to the new rule", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", "ip 10.0.0.0/8", "maxBytesIn 1000"));
    const kept = host.connect({ source: "10.1.0.1:1" });
    const cut = host.connect({ source: "10.2.0.1:1" });
    host.reconfigure(config("segment ns/db enforce", "rule api", "ip 10.1.0.0/16", "maxBytesIn 10"));
    host.advance(1000);
    expect(cut.closeReason).toBe("revoked");
    expect(kept.closed).toBe(false);
    kept.fromClient(bytes(11)); // the new, tighter budget now applies
    expect(kept.closeReason).toBe("bytes-in");
  });

  it("data before the tick still runs under the old rule, never trapping", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api", "maxMessageBytes 5"));
    const c = host.connect();
    host.reconfigure(config("segment ns/db enforce", "rule api"));
    expect(c.fromClient(bytes(6))).toBe(1);
    expect(c.closeReason).toBe("message-size");
  });
});

describe("revocation and protocols", () => {
  it("a connection that carried bytes unsniffed counts as unknown when the new rule lists protocols", async () => {
    const host = await hostWith(config("segment ns/db enforce", "rule api"));
    const talked = host.connect();
    talked.fromClient("*1\r\n$4\r\nPING\r\n"); // redis, but nobody sniffed it
    const silent = host.connect();
    host.reconfigure(config("segment ns/db enforce", "rule api", "protocol redis"));
    host.advance(1000);
    expect(talked.closeReason).toBe("revoked");
    expect(silent.closed).toBe(false);
    expect(silent.fromClient("*1\r\n$4\r\nPING\r\n")).toBe(0); // sniffed on its first bytes under the new rule
    const other = host.connect();
    other.fromClient("GET / HTTP/1.1\r\n");
    expect(other.closeReason).toBe("protocol");
  });
});
