// persource.ts on its own: how each event changes a source's shared record, over plain
// memory. The CAS around it (sharedrecords.ts) is the host's part, tested through the emulator.
import { beforeAll, describe, expect, it } from "vitest";
import { Stages } from "./stages-wasm.js";

const WRITE = -1;
const NOTHING = -2;
const R_SOURCE_BYTES = 10;
const R_SOURCE_CONNECTIONS = 11;
const R_SOURCE_PORTS = 12;

const CONNS = 0; // perSource 3600 - 2 -
const PORTS = 1; // perSource 3600 - - 2
const BYTES = 2; // perSource 3600 1000 - -
const MANY_BYTES = 3; // perSource 60 10485760 - -

const T0 = 1_800_000_000_000n; // ms
const HOUR = 3_600_000n;

let s: Stages;
beforeAll(async () => {
  s = await Stages.load();
  s.config([
    "segment ns/persource enforce",
    "quarantine 3 600 900",
    "rule conns", "perSource 3600 - 2 -",
    "rule ports", "perSource 3600 - - 2",
    "rule bytes", "perSource 3600 1000 - -",
    "rule manyBytes", "perSource 60 10485760 - -",
  ]);
}, 240_000);

interface SourceRecord { start: bigint; bytes: bigint; connections: number; ports: number[] }

function decode(r: Uint8Array): SourceRecord {
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const n = v.getUint32(20, true);
  return {
    start: v.getBigInt64(0, true),
    bytes: v.getBigUint64(8, true),
    connections: v.getUint32(16, true),
    ports: Array.from({ length: n }, (_, i) => v.getUint32(24 + i * 4, true)),
  };
}

/** The record as it would be in shared data (empty: absent). */
class Shared {
  data: Uint8Array = new Uint8Array(0);
  admit(rule: number, port: number, now: bigint): number {
    const v = s.x.admit(rule, s.put(this.data), this.data.length, port, now);
    if (v === WRITE) this.data = s.record();
    return v;
  }
  reserve(rule: number, need: bigint, needIfVoid: bigint, heldWindow: bigint, now: bigint): number {
    const v = s.x.reserve(rule, s.put(this.data), this.data.length, need, needIfVoid, heldWindow, now);
    if (v === WRITE) this.data = s.record();
    return v;
  }
  release(rule: number, lease: bigint, window: bigint, now: bigint): number {
    const v = s.x.release(rule, s.put(this.data), this.data.length, lease, window, now);
    if (v === WRITE) this.data = s.record();
    return v;
  }
  strike(now: bigint): void {
    expect(s.x.strike(0, s.put(this.data), this.data.length, now)).toBe(WRITE);
    this.data = s.record();
  }
  get record(): SourceRecord { return decode(this.data); }
  get quarantinedUntil(): bigint { return s.x.quarantineEnd(s.put(this.data), this.data.length); }
}

describe("perSource connections and ports", () => {
  it("starts a window at the first connection and counts it with its port", () => {
    const sh = new Shared();
    expect(sh.admit(CONNS, 5432, T0)).toBe(WRITE);
    expect(sh.record).toEqual({ start: T0, bytes: 0n, connections: 1, ports: [5432] });
  });

  it("admits maxConnections (2) in a window and refuses the third", () => {
    const sh = new Shared();
    expect(sh.admit(CONNS, 5432, T0)).toBe(WRITE);
    expect(sh.admit(CONNS, 5432, T0 + 1000n)).toBe(WRITE);
    expect(sh.admit(CONNS, 5432, T0 + 2000n)).toBe(R_SOURCE_CONNECTIONS);
    expect(sh.record.connections).toBe(2);
  });

  it("starts a new window once the window has passed", () => {
    const sh = new Shared();
    sh.admit(CONNS, 5432, T0);
    sh.admit(CONNS, 5432, T0);
    expect(sh.admit(CONNS, 5432, T0 + HOUR - 1n)).toBe(R_SOURCE_CONNECTIONS);
    expect(sh.admit(CONNS, 5432, T0 + HOUR)).toBe(WRITE);
    expect(sh.record).toEqual({ start: T0 + HOUR, bytes: 0n, connections: 1, ports: [5432] });
  });

  it("counts distinct ports: a known port again is free, a third distinct one is refused", () => {
    const sh = new Shared();
    expect(sh.admit(PORTS, 80, T0)).toBe(WRITE);
    expect(sh.admit(PORTS, 443, T0)).toBe(WRITE);
    expect(sh.admit(PORTS, 80, T0)).toBe(WRITE);
    expect(sh.admit(PORTS, 8080, T0)).toBe(R_SOURCE_PORTS);
    expect(sh.record.ports).toEqual([80, 443]);
  });

  it("treats a malformed record (a port count past its length) as a fresh one", () => {
    const bad = new Uint8Array(24);
    new DataView(bad.buffer).setBigInt64(0, T0, true);
    new DataView(bad.buffer).setUint32(16, 99, true);
    new DataView(bad.buffer).setUint32(20, 50, true);
    const sh = new Shared();
    sh.data = bad;
    expect(sh.admit(CONNS, 22, T0)).toBe(WRITE);
    expect(sh.record.connections).toBe(1);
  });
});

describe("perSource bytes", () => {
  it("grants exactly maxBytes (1000) in a window and refuses the byte past it", () => {
    const sh = new Shared();
    expect(sh.reserve(BYTES, 600n, 600n, -1n, T0)).toBe(WRITE);
    const window = s.x.leaseWindow();
    expect(window).toBe(T0);
    expect(s.x.lease()).toBe(0n); // near the limit: no lease, every read is accounted
    expect(sh.reserve(BYTES, 401n, 401n, window, T0 + 1n)).toBe(R_SOURCE_BYTES);
    expect(sh.reserve(BYTES, 400n, 400n, window, T0 + 1n)).toBe(WRITE);
    expect(sh.record.bytes).toBe(1000n);
  });

  it("refuses a new connection from a source whose bytes passed maxBytes", () => {
    const sh = new Shared();
    sh.reserve(BYTES, 1000n, 1000n, -1n, T0);
    expect(sh.admit(BYTES, 5432, T0)).toBe(WRITE); // at the limit, not past it
    const over = new Uint8Array(sh.data);
    new DataView(over.buffer).setBigUint64(8, 1001n, true);
    sh.data = over;
    expect(sh.admit(BYTES, 5432, T0)).toBe(R_SOURCE_BYTES);
  });

  it("grants a 64 KiB lease far from the limit, and none near it", () => {
    const sh = new Shared();
    expect(sh.reserve(MANY_BYTES, 100n, 100n, -1n, T0)).toBe(WRITE);
    expect(s.x.lease()).toBe(65536n);
    expect(sh.record.bytes).toBe(100n + 65536n);
    const near = new Uint8Array(sh.data);
    new DataView(near.buffer).setBigUint64(8, 10485760n - 200n, true);
    sh.data = near;
    expect(sh.reserve(MANY_BYTES, 100n, 100n, T0, T0)).toBe(WRITE);
    expect(s.x.lease()).toBe(0n);
  });

  it("needs the whole read when the caller's lease belongs to a past window", () => {
    const sh = new Shared();
    sh.reserve(BYTES, 10n, 10n, -1n, T0);
    // New window: the caller's lease from T0 is void, so `needIfVoid` (the whole read) is taken.
    expect(sh.reserve(BYTES, 5n, 700n, T0, T0 + HOUR)).toBe(WRITE);
    expect(sh.record).toMatchObject({ start: T0 + HOUR, bytes: 700n });
  });

  it("gives an unspent lease back within its window, and nothing once the window is over", () => {
    const sh = new Shared();
    sh.reserve(MANY_BYTES, 100n, 100n, -1n, T0);
    expect(sh.release(MANY_BYTES, 65536n, T0, T0 + 1000n)).toBe(WRITE);
    expect(sh.record.bytes).toBe(100n);
    expect(sh.release(MANY_BYTES, 50n, T0 - 60_000n, T0 + 1000n)).toBe(NOTHING);
    expect(sh.release(MANY_BYTES, 50n, T0, T0 + 60_000n)).toBe(NOTHING); // that window expired
  });
});

describe("quarantine strikes", () => {
  it("quarantines for 900 s at the third strike within 600 s, and starts a new count", () => {
    const sh = new Shared();
    sh.strike(T0);
    sh.strike(T0 + 1000n);
    expect(sh.quarantinedUntil).toBe(0n);
    sh.strike(T0 + 2000n);
    expect(sh.quarantinedUntil).toBe(T0 + 2000n + 900_000n);
    sh.strike(T0 + 3000n);
    expect(sh.quarantinedUntil).toBe(T0 + 2000n + 900_000n); // one strike of a new count
  });

  it("forgets strikes older than the window", () => {
    const sh = new Shared();
    sh.strike(T0);
    sh.strike(T0 + 1000n);
    sh.strike(T0 + 600_000n); // the window of the first two is over: strike 1 of a new count
    sh.strike(T0 + 601_000n);
    expect(sh.quarantinedUntil).toBe(0n);
    sh.strike(T0 + 602_000n);
    expect(sh.quarantinedUntil).toBe(T0 + 602_000n + 900_000n);
  });

  it("reads an absent or short record as not quarantined", () => {
    expect(s.x.quarantineEnd(s.put(new Uint8Array(8)), 8)).toBe(0n);
  });
});
