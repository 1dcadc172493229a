// The versioned cache, without any gRPC: when a watch answers and what it carries.
import { describe, expect, it } from "vitest";
import { SnapshotCache, viewVersion } from "../../xds-server/src/xds/cache/snapshot-cache.js";
import type { DeltaWatchResponse, Snapshot, SotwWatchResponse } from "../../xds-server/src/xds/cache/types.js";
import { buildFilterResource } from "../../xds-server/src/push/resources.js";
import { type MarshaledResource } from "../../xds-server/src/xds/cache/resource.js";
import { TYPED_EXTENSION_CONFIG_TYPE as T } from "../../api/resources.js";

const local = { kind: "local" as const, filename: "/x/picoseg.wasm" };
const res = (name: string, config: string): MarshaledResource => buildFilterResource(name, `picoseg 1\n${config}\nend\n`, local);
const snap = (...rs: MarshaledResource[]): Snapshot => new Map([[T, new Map(rs.map((r) => [r.name, r]))]]);
const named = (...names: string[]) => ({ wildcard: false, names: new Set(names) });
const wildcard = { wildcard: true, names: new Set<string>() };

describe("resource versions", () => {
  it("are content hashes: the same name and config give the same version, another config another", () => {
    expect(res("picoseg", "segment a/b enforce").version).toBe(res("picoseg", "segment a/b enforce").version);
    expect(res("picoseg", "segment a/b enforce").version).not.toBe(res("picoseg", "segment a/c enforce").version);
    expect(res("picoseg", "x").version).not.toBe(res("other", "x").version);
  });
});

describe("sotw watches", () => {
  it("answer at once when the client's version differs from the view, with the whole view", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot("n1", snap(res("picoseg", "a"), res("other", "b")));
    const got: SotwWatchResponse[] = [];
    cache.createWatch({ nodeId: "n1", typeUrl: T, subscription: named("picoseg"), knownVersion: "" }, (r) => got.push(r));
    expect(got).toHaveLength(1);
    expect(got[0]!.resources.map((r) => r.name)).toEqual(["picoseg"]);
    expect(cache.watchCount()).toBe(0);
  });

  it("wait while the client already has the view's version, and answer when the snapshot changes", () => {
    const cache = new SnapshotCache();
    const a = res("picoseg", "a");
    cache.setSnapshot("n1", snap(a));
    const got: SotwWatchResponse[] = [];
    cache.createWatch({ nodeId: "n1", typeUrl: T, subscription: named("picoseg"), knownVersion: viewVersion([a]) }, (r) => got.push(r));
    expect(got).toHaveLength(0);
    cache.setSnapshot("n1", snap(res("picoseg", "a"))); // byte-identical: nothing to say
    expect(got).toHaveLength(0);
    cache.setSnapshot("n1", snap(res("picoseg", "b")));
    expect(got).toHaveLength(1);
    expect(got[0]!.version).not.toBe(viewVersion([a]));
  });

  it("a wildcard watch sees every resource of the type; a named one only its names", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot("n1", snap(res("b", "1"), res("a", "1")));
    const all: SotwWatchResponse[] = [];
    cache.createWatch({ nodeId: "n1", typeUrl: T, subscription: wildcard, knownVersion: "" }, (r) => all.push(r));
    expect(all[0]!.resources.map((r) => r.name)).toEqual(["a", "b"]);
    const one: SotwWatchResponse[] = [];
    cache.createWatch({ nodeId: "n1", typeUrl: T, subscription: named("b", "missing"), knownVersion: "" }, (r) => one.push(r));
    expect(one[0]!.resources.map((r) => r.name)).toEqual(["b"]);
  });

  it("a change to another node's snapshot does not answer this node's watch", () => {
    const cache = new SnapshotCache();
    const a = res("picoseg", "a");
    cache.setSnapshot("n1", snap(a));
    cache.setSnapshot("n2", snap(a));
    const got: SotwWatchResponse[] = [];
    cache.createWatch({ nodeId: "n1", typeUrl: T, subscription: named("picoseg"), knownVersion: viewVersion([a]) }, (r) => got.push(r));
    cache.setSnapshot("n2", snap(res("picoseg", "changed")));
    expect(got).toHaveLength(0);
  });

  it("never answer for a type the snapshot does not carry (an empty LDS answer would drop every listener)", () => {
    const cache = new SnapshotCache();
    cache.setSnapshot("n1", snap(res("picoseg", "a")));
    const got: SotwWatchResponse[] = [];
    const lds = "type.googleapis.com/envoy.config.listener.v3.Listener";
    cache.createWatch({ nodeId: "n1", typeUrl: lds, subscription: wildcard, knownVersion: "" }, (r) => got.push(r));
    cache.setSnapshot("n1", snap(res("picoseg", "b")));
    expect(got).toHaveLength(0);
  });

  it("a cancelled watch is never answered", () => {
    const cache = new SnapshotCache();
    const got: SotwWatchResponse[] = [];
    const cancel = cache.createWatch({ nodeId: "n1", typeUrl: T, subscription: named("picoseg"), knownVersion: viewVersion([]) }, (r) =>
      got.push(r),
    );
    cancel();
    cache.setSnapshot("n1", snap(res("picoseg", "a")));
    expect(got).toHaveLength(0);
  });
});

describe("delta watches", () => {
  it("send only resources whose version the client does not hold", () => {
    const cache = new SnapshotCache();
    const a = res("a", "1");
    const b = res("b", "1");
    cache.setSnapshot("n1", snap(a, b));
    const got: DeltaWatchResponse[] = [];
    cache.createDeltaWatch({ nodeId: "n1", typeUrl: T, subscription: wildcard, known: new Map([["a", a.version]]) }, (r) => got.push(r));
    expect(got[0]!.resources.map((r) => r.name)).toEqual(["b"]);
    expect(got[0]!.removed).toEqual([]);
  });

  it("wait when the client holds every version, and name resources that disappear as removed", () => {
    const cache = new SnapshotCache();
    const a = res("a", "1");
    const b = res("b", "1");
    cache.setSnapshot("n1", snap(a, b));
    const got: DeltaWatchResponse[] = [];
    const known = new Map([
      ["a", a.version],
      ["b", b.version],
    ]);
    cache.createDeltaWatch({ nodeId: "n1", typeUrl: T, subscription: wildcard, known }, (r) => got.push(r));
    expect(got).toHaveLength(0);
    cache.setSnapshot("n1", snap(a));
    expect(got).toHaveLength(1);
    expect(got[0]!.resources).toEqual([]);
    expect(got[0]!.removed).toEqual(["b"]);
  });

  it("never report as removed a name outside the subscription", () => {
    const cache = new SnapshotCache();
    const a = res("a", "1");
    cache.setSnapshot("n1", snap(a));
    const got: DeltaWatchResponse[] = [];
    cache.createDeltaWatch({ nodeId: "n1", typeUrl: T, subscription: named("a"), known: new Map([["a", a.version], ["gone", "v"]]) }, (r) =>
      got.push(r),
    );
    expect(got).toHaveLength(0);
  });
});
