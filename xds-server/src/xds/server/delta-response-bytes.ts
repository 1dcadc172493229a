// Delta responses marshaled here, not by grpc-js: "marshal once, send many times"
// (go-control-plane caches a response's serialized form for the same reason: marshaling drives
// the CPU of a push). A push sends every proxy of a workload the same resource, so everything of
// a DeltaDiscoveryResponse but its nonce is encoded once per resource and reused; the per-stream
// nonce field is appended. Protobuf parsers accept fields in any order, so the bytes mean the
// same as a response marshaled in one piece.
import type protobuf from "protobufjs";
import type { MarshaledResource } from "../cache/resource.js";
import { messageRoot } from "../protos.js";

/** A delta response without its nonce: what the proxies sent the same view share. */
export interface DeltaResponseContent {
  systemVersion: string;
  typeUrl: string;
  resources: readonly MarshaledResource[];
  removed: readonly string[];
  controlPlaneId: string;
}

let responseType: protobuf.Type | undefined;
let nonceTag = 0;

function deltaResponseType(): protobuf.Type {
  if (!responseType) {
    const t = messageRoot(["envoy/service/discovery/v3/discovery.proto"]).lookupType("envoy.service.discovery.v3.DeltaDiscoveryResponse");
    const nonce = t.fields["nonce"];
    // One tag byte (field numbers below 16), wire type 2: length-delimited.
    if (nonce?.type !== "string" || nonce.repeated || nonce.id >= 16) throw new Error("DeltaDiscoveryResponse.nonce: expected string field below 16");
    nonceTag = (nonce.id << 3) | 2;
    responseType = t;
  }
  return responseType;
}

function encodeShared(c: DeltaResponseContent): Uint8Array {
  const t = deltaResponseType();
  return t
    .encode(
      t.fromObject({
        system_version_info: c.systemVersion,
        resources: c.resources.map((x) => ({ name: x.name, version: x.version, resource: { type_url: x.typeUrl, value: x.value } })),
        type_url: c.typeUrl,
        removed_resources: [...c.removed],
        control_plane: { identifier: c.controlPlaneId },
      }),
    )
    .finish();
}

/**
 * The shared bytes of the usual response (one resource, nothing removed), per resource object.
 * A resource object is built once per content (proxy-configs.ts) and shared by its workload's
 * proxies; the key guards the rest of the content (the same for every stream of one server).
 */
const sharedByResource = new WeakMap<MarshaledResource, { typeUrl: string; systemVersion: string; controlPlaneId: string; bytes: Uint8Array }>();

function sharedBytes(c: DeltaResponseContent): Uint8Array {
  const only = c.resources.length === 1 && c.removed.length === 0 ? c.resources[0] : undefined;
  if (!only) return encodeShared(c);
  // Compared field by field: this runs once per proxy of a push, so it builds nothing.
  const cached = sharedByResource.get(only);
  if (cached && cached.typeUrl === c.typeUrl && cached.systemVersion === c.systemVersion && cached.controlPlaneId === c.controlPlaneId) return cached.bytes;
  const bytes = encodeShared(c);
  sharedByResource.set(only, { typeUrl: c.typeUrl, systemVersion: c.systemVersion, controlPlaneId: c.controlPlaneId, bytes });
  return bytes;
}

/** The marshaled DeltaDiscoveryResponse for one stream: the shared bytes, then its nonce. */
export function deltaResponseBytes(content: DeltaResponseContent, nonce: string): Buffer {
  const shared = sharedBytes(content);
  const nonceLength = Buffer.byteLength(nonce);
  if (nonceLength > 127) throw new Error(`nonce of ${nonceLength} bytes: longer than a one-byte length`);
  const out = Buffer.allocUnsafe(shared.length + 2 + nonceLength);
  out.set(shared, 0);
  out[shared.length] = nonceTag;
  out[shared.length + 1] = nonceLength;
  out.write(nonce, shared.length + 2, "utf8");
  return out;
}
