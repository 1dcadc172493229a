// What a read costs in host calls: each proxy_get_buffer_bytes copies through a call back into the
// module's malloc, so a step finds the bytes an earlier step of the same read already fetched.
import { describe, expect, it } from "vitest";
import type { FilterHost } from "../../testkit/filter-host/index.js";
import { hostWith, oneRule, pgMessage } from "./helpers.js";

const rule = oneRule("protocol unknown", "maxMessageBytes 100", "framing lengthPrefixed 1 4 big -4");
const bufferReads = (host: FilterHost): number => host.hostCalls.get("proxy_get_buffer_bytes") ?? 0;
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe("buffer reads per read", () => {
  it("a first read is sniffed and framed with one buffer read when its length fields are in the sniffed 64 bytes", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    const before = bufferReads(host);
    // Two messages: the second's length field (bytes 41–44) is inside the sniffed prefix too.
    expect(c.fromClient(cat(pgMessage(35), pgMessage(59)))).toBe(0);
    expect(bufferReads(host) - before).toBe(1);
    expect(c.closed).toBe(false);
  });

  it("a length field past the sniffed prefix is read from the host", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    const before = bufferReads(host);
    expect(c.fromClient(cat(pgMessage(75), pgMessage(10)))).toBe(0); // second header at bytes 81–84
    expect(bufferReads(host) - before).toBe(2);
  });

  it("a message-size violation found in the sniffed bytes still closes the connection", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    expect(c.fromClient(cat(pgMessage(20), pgMessage(96)))).toBe(1); // 1 + 4 + 96 = 101 > 100
    expect(c.closeReason).toBe("message-size");
    expect(c.deliveredToServer.length).toBe(0);
  });

  it("the next read fetches its own bytes, not the last read's", async () => {
    const host = await hostWith(rule);
    const c = host.connect();
    expect(c.fromClient(pgMessage(20))).toBe(0);
    // Same offsets as the first read, but a length past the limit: must be read afresh.
    expect(c.fromClient(pgMessage(96))).toBe(1);
    expect(c.closeReason).toBe("message-size");
  });
});
