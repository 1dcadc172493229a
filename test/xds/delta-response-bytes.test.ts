// Delta responses marshaled once per resource plus a per-stream nonce: the bytes must decode to
// the very message a one-piece marshal gives, whatever the nonce and the content.
import { describe, expect, it } from "vitest";
import { deltaResponseBytes, type DeltaResponseContent } from "../../xds-server/src/xds/server/delta-response-bytes.js";
import { messageRoot } from "../../xds-server/src/xds/protos.js";
import { buildFilterResource } from "../../xds-server/src/push/resources.js";
import { TYPED_EXTENSION_CONFIG_TYPE as T } from "../../api/resources.js";

const Response = messageRoot(["envoy/service/discovery/v3/discovery.proto"]).lookupType("envoy.service.discovery.v3.DeltaDiscoveryResponse");
const local = { kind: "local" as const, filename: "/x/picoseg.wasm" };
const res = (name: string, config: string) => buildFilterResource(name, `picoseg 1\n${config}\nend\n`, local);

/** The response as one protobufjs marshal of the whole message gives it, decoded to JSON. */
function expected(c: DeltaResponseContent, nonce: string): Record<string, unknown> {
  const whole = Response.encode(
    Response.fromObject({
      system_version_info: c.systemVersion,
      resources: c.resources.map((x) => ({ name: x.name, version: x.version, resource: { type_url: x.typeUrl, value: x.value } })),
      type_url: c.typeUrl,
      removed_resources: [...c.removed],
      nonce,
      control_plane: { identifier: c.controlPlaneId },
    }),
  ).finish();
  return Response.toObject(Response.decode(whole), { bytes: String });
}
const decoded = (bytes: Uint8Array): Record<string, unknown> => Response.toObject(Response.decode(bytes), { bytes: String });

describe("delta response bytes", () => {
  it("decode to the one-piece message for every nonce of a shared one-resource response", () => {
    const content: DeltaResponseContent = { systemVersion: "v1", typeUrl: T, resources: [res("picoseg", "a")], removed: [], controlPlaneId: "cp-1" };
    for (const nonce of ["1", "42", "1000000", "x".repeat(127)]) {
      expect(decoded(deltaResponseBytes(content, nonce))).toEqual(expected(content, nonce));
    }
  });

  it("share every byte but the nonce between the streams of one resource", () => {
    const content: DeltaResponseContent = { systemVersion: "v1", typeUrl: T, resources: [res("picoseg", "a")], removed: [], controlPlaneId: "cp-1" };
    const a = deltaResponseBytes(content, "7");
    const b = deltaResponseBytes(content, "8");
    expect(a.length).toBe(b.length);
    expect(a.subarray(0, -1)).toEqual(b.subarray(0, -1));
    expect(decoded(b)).toMatchObject({ nonce: "8" });
  });

  it("follow the content, not only the resource: another control plane id or system version", () => {
    const r = res("picoseg", "a");
    const one: DeltaResponseContent = { systemVersion: "v1", typeUrl: T, resources: [r], removed: [], controlPlaneId: "cp-1" };
    const other: DeltaResponseContent = { ...one, controlPlaneId: "cp-2", systemVersion: "v2" };
    expect(decoded(deltaResponseBytes(one, "1"))).toEqual(expected(one, "1"));
    expect(decoded(deltaResponseBytes(other, "1"))).toEqual(expected(other, "1"));
    expect(decoded(deltaResponseBytes(one, "2"))).toEqual(expected(one, "2"));
  });

  it("carry several resources and removed names", () => {
    const content: DeltaResponseContent = {
      systemVersion: "v3",
      typeUrl: T,
      resources: [res("a", "x"), res("b", "y")],
      removed: ["gone", "also-gone"],
      controlPlaneId: "cp-1",
    };
    expect(decoded(deltaResponseBytes(content, "9"))).toEqual(expected(content, "9"));
    expect(decoded(deltaResponseBytes({ ...content, resources: [] }, "10"))).toEqual(expected({ ...content, resources: [] }, "10"));
  });

  it("refuse a nonce longer than a one-byte length", () => {
    const content: DeltaResponseContent = { systemVersion: "v1", typeUrl: T, resources: [res("picoseg", "a")], removed: [], controlPlaneId: "cp-1" };
    expect(() => deltaResponseBytes(content, "x".repeat(128))).toThrow(/nonce of 128 bytes/);
  });
});
