// A resource as the cache holds and the streams send it: marshaled once, versioned by a hash of
// its bytes, so identical content has the identical version on every proxy and every replica.
import { createHash } from "node:crypto";

/** A resource as the cache holds it: already marshaled, with its content version. */
export interface MarshaledResource {
  name: string;
  typeUrl: string;
  /** Content hash of `value`; the per-resource version in delta xDS. */
  version: string;
  /** The serialized message, i.e. the `value` of the Any sent to Envoy. */
  value: Uint8Array;
}

export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}
