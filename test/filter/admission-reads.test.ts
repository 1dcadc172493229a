// Shared-data reads at admission: the per-source scan's read of the chosen slot is the read its
// update starts from (one read per slot, not two), and the write's CAS still catches another
// worker's write in between.
import { describe, expect, it } from "vitest";
import { FilterHost } from "../../testkit/filter-host/index.js";
import { config, hostWith } from "./helpers.js";

const rule = (ps: string, ...more: string[]) => config("segment ns/db enforce", ...more, "rule api", "ip 10.0.0.0/8", `perSource ${ps}`);
const reads = (host: FilterHost): number => host.hostCalls.get("proxy_get_shared_data") ?? 0;

/** FNV-1a 64 of s's UTF-8 bytes from `basis`, as sharedrecords.ts hashes an identity. */
function fnv1a64(s: string, basis: bigint): bigint {
  let h = basis;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

describe("per-source slot keys", () => {
  // Envoy keeps shared data across a module reload: a new build must find the records an older one wrote.
  it("a source's first slot is its identity's FNV-1a 64 hash under the rule's mask (stable across builds)", async () => {
    const host = await hostWith(rule("60 - 5 - 1000")); // maxSources 1000: 4,096 slots
    for (const id of ["10.0.0.1", "spiffe://td/ns/ä/sa/api"]) {
      const principal = id.startsWith("spiffe:") ? id : undefined;
      expect(host.connect({ source: "10.0.0.1:1", principal }).closed).toBe(false);
      let h = fnv1a64(id, 0xcbf29ce484222325n);
      if (h === 0n) h = 1n;
      expect([...host.sharedData().keys()]).toContain(`picoseg/ps/ns/db/api/#${h & 4095n}`);
    }
  });
});

describe("shared-data reads at admission", () => {
  it("a returning source costs one slot read, plus one for quarantine", async () => {
    const host = await hostWith(rule("60 - 5 -", "quarantine 3 600 900"));
    expect(host.connect({ source: "10.0.0.1:1" }).closed).toBe(false);
    const before = reads(host);
    expect(host.connect({ source: "10.0.0.1:2" }).closed).toBe(false);
    expect(reads(host) - before).toBe(2); // quarantine, then the source's own slot (its first candidate)
  });

  it("a slot never written is read again right before its write (a write with CAS 0 is unconditional)", async () => {
    const host = await hostWith(rule("60 - 5 -"));
    const before = reads(host);
    expect(host.connect({ source: "10.0.0.1:1" }).closed).toBe(false);
    expect(reads(host) - before).toBe(5); // four empty candidates, then the first of them again
  });

  it("another worker's write between the scan and the write is seen: CAS mismatch, the update retries on it", async () => {
    const w1 = await hostWith(rule("60 - 2 -"));
    const w2 = await FilterHost.start({ config: rule("60 - 2 -"), shareWith: w1 });
    expect(w1.connect({ source: "10.0.0.1:1" }).closed).toBe(false);
    let raced = false;
    w1.beforeHostCall = (name) => {
      if (name !== "proxy_set_shared_data" || raced) return;
      raced = true; // w1 has read the slot (count 1); w2 admits the second connection first
      expect(w2.connect({ source: "10.0.0.1:2" }).closed).toBe(false);
    };
    expect(w1.connect({ source: "10.0.0.1:3" }).closeReason).toBe("source-connections");
    expect(raced).toBe(true);
  });
});
