// gRPC callouts (proxy_grpc_call), as learning mode's report channel makes them: the emulator keeps
// each call until the test answers it, as a server would through Envoy's gRPC client.

/** A gRPC call the filter made, waiting for an answer (FilterHost.answerGrpc). */
export interface GrpcCall {
  token: number;
  /** The root context that made it; its callbacks go there. */
  root: number;
  /** The cluster of the envoy_grpc GrpcService it passed. */
  cluster: string;
  service: string;
  method: string;
  body: Uint8Array;
  timeoutMs: number;
}

export class GrpcCalls {
  readonly waiting: GrpcCall[] = [];
  private nextToken = 1;

  /** Records a call; its token. */
  add(call: Omit<GrpcCall, "token">): number {
    const token = this.nextToken++;
    this.waiting.push({ ...call, token });
    return token;
  }

  /** Drops the calls of root context `root`, unanswered (Envoy cancels a deleted context's calls). */
  cancelOf(root: number): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i]!.root === root) this.waiting.splice(i, 1);
  }

  /** The call `token`, no longer waiting; throws when there is none. */
  take(token: number): GrpcCall {
    const i = this.waiting.findIndex((c) => c.token === token);
    if (i < 0) throw new Error(`no gRPC call ${token} is waiting`);
    return this.waiting.splice(i, 1)[0]!;
  }
}

/** The cluster_name of a serialized GrpcService { envoy_grpc (1) { cluster_name (1) } }; undefined otherwise. */
export function envoyGrpcCluster(b: Uint8Array): string | undefined {
  const inner = onlyField1(b);
  const name = inner ? onlyField1(inner) : undefined;
  return name ? new TextDecoder().decode(name) : undefined;
}

/** The payload of a message made of exactly one length-delimited field 1. */
function onlyField1(buf: Uint8Array): Uint8Array | undefined {
  if (buf.length < 2 || buf[0] !== 0x0a) return undefined;
  let len = 0;
  let shift = 0;
  let i = 1;
  for (; i < buf.length && i < 6; i++) {
    len |= (buf[i]! & 0x7f) << shift;
    shift += 7;
    if ((buf[i]! & 0x80) === 0) break;
  }
  const start = i + 1;
  return start + len === buf.length ? buf.subarray(start, start + len) : undefined;
}
