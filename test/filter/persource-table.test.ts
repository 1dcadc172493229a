// perSource at fleet scale: records live in a bounded table of slots (perSource MAXSOURCES),
// so shared data stays within a stated size however many sources come and go; when a new
// source finds both its slots holding other sources' live windows, the older is evicted and
// counted (picoseg.persource.evicted).
import { describe, expect, it } from "vitest";
import { hostWith, oneRule } from "./helpers.js";

const src = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:40000`;
const perSourceKeys = (shared: Map<string, Uint8Array>): string[] => [...shared.keys()].filter((k) => k.startsWith("picoseg/ps/"));

describe("the per-source table", () => {
  it("20,000 sources under MAXSOURCES 2048 keep at most 8,192 records; the evictions are counted", async () => {
    const host = await hostWith(oneRule("perSource 3600 - 1000 -  2048"));
    for (let i = 0; i < 20_000; i++) host.connect({ source: src(i) }).closeFromClient();
    const keys = perSourceKeys(host.sharedData());
    expect(keys.length).toBeLessThanOrEqual(8192);
    expect(keys.length).toBeGreaterThan(8192 * 0.9); // the table fills before it evicts much
    expect(host.counter("picoseg.allowed")).toBe(20_000);
    // At least every source past the table's size evicted one.
    expect(host.counter("picoseg.persource.evicted")).toBeGreaterThanOrEqual(20_000 - 8192);
  });

  it("MAXSOURCES sources fit: 2,048 sources under MAXSOURCES 2048 evict almost none", async () => {
    const host = await hostWith(oneRule("perSource 3600 - 1000 -  2048"));
    for (let i = 0; i < 2048; i++) host.connect({ source: src(i) }).closeFromClient();
    expect(host.counter("picoseg.persource.evicted")).toBeLessThanOrEqual(2048 * 0.01);
  });

  it("a source keeps its record: its connections are counted against its own limit", async () => {
    const host = await hostWith(oneRule("perSource 3600 - 2 -  1000"));
    for (let i = 0; i < 500; i++) host.connect({ source: src(i) });
    expect(host.connect({ source: src(7) }).closed).toBe(false); // its second
    expect(host.connect({ source: src(7) }).closeReason).toBe("source-connections"); // its third
    expect(host.counter("picoseg.persource.evicted")).toBe(0);
  });

  it("a full table evicts the older window: that source starts afresh, the newer keeps its count", async () => {
    // MAXSOURCES 1: four slots. Sources fill them; then every new source evicts the oldest
    // window, and its own record counts on from there.
    const host = await hostWith(oneRule("perSource 3600 - 2 -  1"));
    for (let i = 0; i < 10; i++) host.connect({ source: src(i) });
    expect(perSourceKeys(host.sharedData()).length).toBeLessThanOrEqual(4);
    expect(host.counter("picoseg.persource.evicted")).toBeGreaterThanOrEqual(6);
    expect(host.connect({ source: src(9) }).closed).toBe(false); // the newest source's second connection
    expect(host.connect({ source: src(9) }).closeReason).toBe("source-connections");
  });

  it("without MAXSOURCES the table holds 262,144 slots (65,536 sources)", async () => {
    const host = await hostWith(oneRule("perSource 3600 - 1000 -"));
    for (let i = 0; i < 2000; i++) host.connect({ source: src(i) }).closeFromClient();
    const slots = perSourceKeys(host.sharedData()).map((k) => Number(k.slice(k.lastIndexOf("#") + 1)));
    expect(Math.max(...slots)).toBeLessThan(262144);
    expect(Math.max(...slots)).toBeGreaterThan(131072); // spread over the whole table
    expect(host.counter("picoseg.persource.evicted")).toBe(0);
  });
});
