// Who may speak for a node id. The snapshot cache is keyed by node id, so every stream of one
// id receives the same config; that is only sound if those streams agree on what the node is.
// The first stream to name an id claims it with its workload (and its authenticated identity,
// if any); a stream naming the same id with anything else is refused, so a stranger can never
// change what a live proxy receives. The claim ends with the id's last stream.
import * as grpc from "@grpc/grpc-js";
import type { NodeInfo } from "./node.js";
import { workloadKey } from "../../../api/workload.js";
import type { StreamAdmission, StreamInfo, StreamRefusal } from "./server/callbacks.js";

interface Claim {
  key: string;
  streams: Set<number>;
}

export class NodeClaims implements StreamAdmission {
  private readonly claims = new Map<string, Claim>();

  admit(stream: StreamInfo, node: NodeInfo): StreamRefusal | undefined {
    const key = claimKey(stream, node);
    const held = this.claims.get(node.id);
    if (held && held.key !== key) {
      return {
        code: grpc.status.ALREADY_EXISTS,
        reason: "node-claim-conflict",
        message: `node id "${node.id}" is held by another stream with other metadata or identity; refusing this claim (namespace ${node.workload.namespace}) until that stream ends`,
      };
    }
    if (held) held.streams.add(stream.id);
    else this.claims.set(node.id, { key, streams: new Set([stream.id]) });
    return undefined;
  }

  release(stream: StreamInfo, node: NodeInfo): void {
    const held = this.claims.get(node.id);
    if (!held) return;
    held.streams.delete(stream.id);
    if (held.streams.size === 0) this.claims.delete(node.id);
  }

  size(): number {
    return this.claims.size;
  }
}

/** Everything a node's config depends on, plus who proved it: streams sharing an id must agree. */
function claimKey(stream: StreamInfo, node: NodeInfo): string {
  return JSON.stringify([stream.identity ?? "", workloadKey(node.workload)]);
}

/** Runs admissions in order; the first refusal wins, and only admitted ones are released. */
export function allOf(...all: StreamAdmission[]): StreamAdmission {
  return {
    admit(stream, node) {
      for (let i = 0; i < all.length; i++) {
        const refusal = all[i]!.admit(stream, node);
        if (refusal) {
          for (let j = 0; j < i; j++) all[j]!.release(stream, node);
          return refusal;
        }
      }
      return undefined;
    },
    release(stream, node) {
      for (const a of all) a.release(stream, node);
    },
  };
}

const WORKLOAD_ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/**
 * Binds a stream's node metadata to its client certificate, as istiod does: a proxy proving
 * spiffe://TD/ns/NS/sa/SA speaks only for a workload of namespace NS and service account SA.
 * Labels cannot be proven by a certificate; namespace and service account bound, a stolen
 * sidecar identity reaches at most its own namespace's segments.
 */
export class IdentityBinding implements StreamAdmission {
  /** `required`: the server verifies client certificates (mTLS), so every stream must carry an identity. */
  constructor(private readonly opts: { required: boolean }) {}

  admit(stream: StreamInfo, node: NodeInfo): StreamRefusal | undefined {
    const id = stream.identity;
    if (id === undefined) {
      return this.opts.required
        ? { code: grpc.status.PERMISSION_DENIED, reason: "no-identity", message: "a client certificate with a SPIFFE ID (URI SAN) is required" }
        : undefined;
    }
    const m = WORKLOAD_ID.exec(id);
    if (!m) {
      return { code: grpc.status.PERMISSION_DENIED, reason: "no-identity", message: `${id} is not a workload identity (spiffe://TD/ns/NS/sa/SA)` };
    }
    const [, , ns, sa] = m;
    const w = node.workload;
    if (w.namespace !== ns || w.serviceAccount !== sa) {
      return {
        code: grpc.status.PERMISSION_DENIED,
        reason: "identity-mismatch",
        message: `${id} may only speak for namespace ${ns}, service account ${sa}; node "${node.id}" claims namespace ${w.namespace}, service account ${w.serviceAccount ?? "(none)"}`,
      };
    }
    return undefined;
  }

  release(): void {}
}

/** An Envoy holds one or two streams; a node agent or NAT may put a few hundred behind one address. */
export const DEFAULT_MAX_STREAMS_PER_PEER = 256;

/**
 * Bounds the streams one peer address may hold: an Envoy needs one or two, so a client opening
 * thousands (or cycling node ids) is abuse, refused before it costs a snapshot per node id.
 */
export class PeerStreamLimit implements StreamAdmission {
  private readonly byPeer = new Map<string, number>();

  constructor(private readonly max: number) {}

  admit(stream: StreamInfo): StreamRefusal | undefined {
    const peer = peerHost(stream.peer);
    const n = this.byPeer.get(peer) ?? 0;
    if (n >= this.max) {
      return {
        code: grpc.status.RESOURCE_EXHAUSTED,
        reason: "peer-stream-limit",
        message: `${peer} already holds ${n} xDS streams (at most ${this.max} per peer address)`,
      };
    }
    this.byPeer.set(peer, n + 1);
    return undefined;
  }

  release(stream: StreamInfo): void {
    const peer = peerHost(stream.peer);
    const n = (this.byPeer.get(peer) ?? 1) - 1;
    if (n <= 0) this.byPeer.delete(peer);
    else this.byPeer.set(peer, n);
  }
}

/** "127.0.0.1:5000" → "127.0.0.1", "[::1]:5000" → "::1", "ipv4:10.0.0.1:5000" → "10.0.0.1". */
function peerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const m = /^\[(.*)\]:\d+$/.exec(bare) ?? /^(.*):\d+$/.exec(bare);
  return m ? m[1]! : bare;
}
