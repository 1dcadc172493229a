// Per-connection byte budgets: exactly maxBytesIn/maxBytesOut may pass; the read that would exceed is dropped.
import { describe, expect, it } from "vitest";
import { bytes, hostWith, oneRule } from "./helpers.js";

describe("maxBytesIn", () => {
  it("a connection may carry exactly maxBytesIn bytes from the client", async () => {
    const host = await hostWith(oneRule("maxBytesIn 100"));
    const c = host.connect();
    expect(c.fromClient(bytes(60))).toBe(0);
    expect(c.fromClient(bytes(40))).toBe(0);
    expect(c.closed).toBe(false);
    expect(c.deliveredToServer.length).toBe(100);
  });

  it("the read that would pass maxBytesIn is not forwarded and closes with bytes-in", async () => {
    const host = await hostWith(oneRule("maxBytesIn 100"));
    const c = host.connect();
    c.fromClient(bytes(60));
    expect(c.fromClient(bytes(41))).toBe(1);
    expect(c.closed).toBe(true);
    expect(c.closeReason).toBe("bytes-in");
    expect(c.deliveredToServer.length).toBe(60);
    expect(host.counter("picoseg.denied.bytes-in")).toBe(1);
    expect(c.fromClient("x")).toBeNull(); // closed: nothing more flows
  });

  it("a single read of limit+1 is cut before anything passes", async () => {
    const host = await hostWith(oneRule("maxBytesIn 100"));
    const c = host.connect();
    c.fromClient(bytes(101));
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.closeReason).toBe("bytes-in");
  });

  it("maxBytesIn 0 admits the connection but not one byte", async () => {
    const host = await hostWith(oneRule("maxBytesIn 0"));
    const c = host.connect();
    expect(c.closed).toBe(false);
    expect(c.fromClient(new Uint8Array(0))).toBe(0);
    c.fromClient("a");
    expect(c.closeReason).toBe("bytes-in");
  });

  it("server bytes do not count against maxBytesIn", async () => {
    const host = await hostWith(oneRule("maxBytesIn 10"));
    const c = host.connect();
    c.fromServer(bytes(1000));
    expect(c.fromClient(bytes(10))).toBe(0);
    expect(c.closed).toBe(false);
  });

  it("budgets use sizes, not payload reads", async () => {
    const host = await hostWith(oneRule("maxBytesIn 10000000", "maxBytesOut 10000000"));
    const c = host.connect();
    for (let i = 0; i < 10; i++) c.fromClient(bytes(100_000));
    for (let i = 0; i < 10; i++) c.fromServer(bytes(100_000));
    expect(host.bytesRead).toBe(0);
  });
});

describe("maxBytesOut", () => {
  it("exactly maxBytesOut may pass; one more byte closes with bytes-out", async () => {
    const host = await hostWith(oneRule("maxBytesOut 50"));
    const c = host.connect();
    expect(c.fromServer(bytes(50))).toBe(0);
    expect(c.closed).toBe(false);
    expect(c.fromServer(bytes(1))).toBe(1);
    expect(c.closeReason).toBe("bytes-out");
    expect(c.deliveredToClient.length).toBe(50);
    expect(host.counter("picoseg.denied.bytes-out")).toBe(1);
  });

  it("the decision line carries the byte counts", async () => {
    const host = await hostWith(oneRule("maxBytesOut 50"));
    const c = host.connect({ source: "10.1.2.3:40000", port: 5432 });
    c.fromClient(bytes(7));
    c.fromServer(bytes(51));
    const d = c.decisions().find((x) => x.picoseg === "deny")!;
    expect(d).toMatchObject({ reason: "bytes-out", segment: "ns/seg", rule: "r", source: "10.1.2.3:40000", port: 5432, bytesIn: 7, bytesOut: 51, mode: "enforce" });
  });
});

describe("buffer sizes from the host", () => {
  it("a shrinking buffer length never counts negative bytes nor traps", async () => {
    const host = await hostWith(oneRule("protocol http1", "maxBytesIn 100"));
    const c = host.connect();
    c.fromClient("GE"); // held: the host's buffer now has 2 bytes
    expect(c.rawData(false, new Uint8Array(1), 1, false)).not.toBeNull();
    expect(c.rawData(false, new Uint8Array(0), 0, false)).not.toBeNull();
    expect(c.closed === false || c.closeReason !== null).toBe(true);
  });

  it("a size larger than the buffer (a lying host) does not trap", async () => {
    const host = await hostWith(oneRule("protocol http1", "maxMessageBytes 10", "framing delimited 0a"));
    const c = host.connect();
    c.rawData(false, new Uint8Array(3), 0xffffffff, false);
    expect(c.closed).toBe(true);
  });
});
