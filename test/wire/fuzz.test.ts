// Fuzzing the wire functions: streams of well-formed messages with random corruptions, fed in
// random splits. Invariants: never a trap; the outcome (and the MQTT client id) does not depend
// on how the bytes were split; a signature's NO or MATCH never changes with more bytes.
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../testkit/fuzz/prng.js";
import { KIND, SNIFF, WIRE, WireModule } from "./module.js";

let wire: WireModule;
beforeAll(async () => {
  wire = await WireModule.load();
}, 60_000);

const ITERATIONS = 3000;

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return out;
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/** A message of the protocol, mostly well formed. */
function message(kind: keyof typeof KIND, rng: Rng, first: boolean): number[] {
  const body = Array.from(rng.bytes(rng.size(300)));
  if (kind === "kafka") return [...u32(body.length), ...body];
  if (kind === "postgres") {
    if (first) {
      const code = rng.pick([196608, 80877103, 80877104, 80877102, 196610]);
      const len = code === 80877103 || code === 80877104 ? 8 : code === 80877102 ? 16 : 8 + body.length;
      return [...u32(len), ...u32(code), ...body.slice(0, len - 8), ...Array(Math.max(0, len - 8 - body.length)).fill(0)];
    }
    return [rng.int(0x41, 0x5a), ...u32(4 + body.length), ...body];
  }
  // mqtt: CONNECT first (3.1.1 or 5), then any packet type
  if (first) {
    const level = rng.pick([4, 5]);
    const id = Array.from(Buffer.from(`sensor-${rng.int(0, 99999)}`));
    const vh = [0, 4, 0x4d, 0x51, 0x54, 0x54, level, 2, 0, 60, ...(level === 5 ? [0] : []), 0, id.length, ...id];
    return [0x10, ...varint(vh.length), ...vh];
  }
  const type = rng.int(1, 15);
  const flags = type === 3 ? rng.int(0, 5) << 1 : 0;
  const pub = type === 3 ? [0, 3, 0x61, 0x2f, 0x62, ...(flags & 6 ? [0, 1] : [])] : [];
  const all = [...pub, ...body];
  return [(type << 4) | flags, ...varint(all.length), ...all];
}

function stream(kind: keyof typeof KIND, rng: Rng): Uint8Array {
  const out: number[] = [];
  const n = rng.int(1, 8);
  for (let i = 0; i < n; i++) out.push(...message(kind, rng, i === 0));
  const bytes = Uint8Array.from(out);
  // Corrupt some streams: flipped bytes, a truncation, or random bytes altogether.
  if (rng.chance(0.3)) for (let k = rng.int(1, 4); k > 0; k--) bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
  if (rng.chance(0.1)) return rng.bytes(rng.size(600));
  return rng.chance(0.1) ? bytes.subarray(0, rng.int(0, bytes.length)) : bytes;
}

function splits(bytes: Uint8Array, rng: Rng): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = rng.chance(0.3) ? 1 : rng.int(1, Math.max(1, bytes.length - i));
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

function outcome(kind: keyof typeof KIND, parts: Uint8Array[], max: number, maxPublish: number | undefined): string {
  const c = wire.connection(kind, max, maxPublish);
  let r: number = WIRE.ok;
  for (const p of parts) {
    r = c.client.feed(p);
    if (r !== WIRE.ok) break;
  }
  const id = kind === "mqtt" ? wire.mqttClientId(c.client) : undefined;
  return JSON.stringify({ r, id });
}

describe("wire fuzz", () => {
  it.each(Object.keys(KIND) as Array<keyof typeof KIND>)("%s: no trap, and the outcome does not depend on the split", (kind) => {
    const rng = new Rng(0x13 + KIND[kind]);
    const seen = new Set<number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = stream(kind, rng);
      const max = rng.pick([0, 5, 64, 200, 400, 1 << 20]);
      const maxPublish = kind === "mqtt" && rng.chance(0.5) ? rng.int(0, 300) : undefined;
      const whole = outcome(kind, [bytes], max, maxPublish);
      seen.add((JSON.parse(whole) as { r: number }).r);
      expect(outcome(kind, splits(bytes, rng), max, maxPublish), `iteration ${i}`).toBe(whole);
    }
    // The generator reaches every outcome its framing has.
    const expected = kind === "mqtt" ? [WIRE.ok, WIRE.tooBig, WIRE.malformed, WIRE.publishTooBig] : [WIRE.ok, WIRE.tooBig, WIRE.malformed];
    expect([...seen].sort()).toEqual(expected.sort());
  });

  it("signatures: NO and MATCH never change as more bytes arrive; TLS names never trap", () => {
    const rng = new Rng(0x5eed);
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = rng.chance(0.5) ? stream(rng.pick(["mqtt", "kafka", "postgres"] as const), rng) : rng.bytes(rng.size(80));
      if (rng.chance(0.2) && bytes.length >= 4) bytes.set(Buffer.from("AMQP"), 0);
      for (const proto of ["mqtt", "kafka", "amqp", "nats"] as const) {
        let settled: number | undefined;
        for (let n = 0; n <= Math.min(bytes.length, 64); n++) {
          const r = wire.sniff(proto, bytes.subarray(0, n));
          if (settled !== undefined) expect(r, `${proto} at ${n}`).toBe(settled);
          else if (r !== SNIFF.more) settled = r;
        }
      }
      wire.serverName(bytes);
      if (bytes.length > 5) wire.serverName(Uint8Array.from([0x16, 3, 1, ...bytes.subarray(3)]));
    }
  });
});
