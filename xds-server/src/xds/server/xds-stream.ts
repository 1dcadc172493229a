// One xDS stream's plumbing, shared by the sotw and delta handlers: stream ids, the node, the
// request's type, nonces, one open watch per type, responses, ACK/NACK reports, teardown. The
// protocol logic (what a request subscribes to, which nonce it answers) stays in sotw.ts and
// delta.ts.
import * as grpc from "@grpc/grpc-js";
import type { CancelWatch, ConfigWatcher, Subscription } from "../cache/types.js";
import { nodeInfo } from "../node.js";
import type { Callbacks, SentResponse, StreamAdmission, StreamInfo } from "./callbacks.js";
import type { XdsProtocol, XdsService } from "../../../../api/status.js";
import type { ProtoNode, RpcStatus } from "./messages.js";
import { type MarshaledResource } from "../cache/resource.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../../../api/resources.js";
import type { StreamRegistry } from "./registry.js";
import { defined, errorMessage } from "../../util/index.js";

export interface StreamServerOptions {
  watcher: ConfigWatcher;
  callbacks: Callbacks;
  /** Sent as `control_plane.identifier` in every response. */
  controlPlaneId: string;
  /** Who may speak for which node; without it every stream is admitted. */
  admission?: StreamAdmission;
  /** Live streams, for draining at shutdown. */
  registry?: StreamRegistry;
}

/** What a watch's answer holds, sotw or delta, as a response records it. */
export interface ResponseContent {
  /** sotw: the view's version; delta: the informational system version. */
  version: string;
  resources: readonly MarshaledResource[];
  /** delta only: subscribed names the snapshot no longer has. */
  removed: readonly string[];
  snapshotSetAt: number;
}

/** What the stream reads from every request, sotw or delta. */
export interface StreamRequest {
  node?: ProtoNode | null;
  type_url?: string;
}

/** What a protocol (sotw.ts, delta.ts) does with one request of a known node and type. */
export type RequestHandler<Req> = (req: Req, typeUrl: string) => void;

let nextStreamId = 1;

export class XdsStream<Req extends StreamRequest, Res> {
  readonly info: StreamInfo;
  /** The open watch per type URL; a watch answers once and is then gone. */
  private readonly watches = new Map<string, CancelWatch>();
  private nonceCounter = 0;
  private closed = false;

  constructor(
    private readonly call: grpc.ServerDuplexStream<Req, Res>,
    private readonly service: XdsService,
    protocol: XdsProtocol,
    private readonly opts: StreamServerOptions,
  ) {
    const identity = peerSpiffeId(call);
    this.info = {
      id: nextStreamId++,
      service,
      protocol,
      peer: call.getPeer(),
      openedAt: Date.now(),
      ...defined({ identity }),
    };
  }

  /** The node's id; known once run() has passed a request to its handler. */
  get nodeId(): string {
    return this.info.node!.id;
  }

  /**
   * Wires the stream's lifecycle: `onRequest` per request that has a node (now or earlier) and a
   * type URL, a failed stream otherwise; teardown once on end, error or cancellation (cancels
   * every watch, reports the close).
   */
  run(onRequest: RequestHandler<Req>): void {
    const call = this.call;
    const registry = this.opts.registry;
    if (registry?.draining) {
      failStream(call, grpc.status.UNAVAILABLE, "picoseg server draining (shutting down); connect to another replica");
      return;
    }
    registry?.add(this);
    this.opts.callbacks.onStreamOpen?.(this.info);
    call.on("data", (req: Req) => {
      if (this.closed) return;
      try {
        const learnt = this.learnNode(req.node);
        if (learnt === "missing") {
          failStream(call, grpc.status.INVALID_ARGUMENT, "the first request of a stream must carry a node with an id");
          return;
        }
        if (learnt === "refused") return;
        const typeUrl = this.requestTypeUrl(req.type_url);
        if (!typeUrl) {
          failStream(call, grpc.status.INVALID_ARGUMENT, "an ADS request must set type_url");
          return;
        }
        onRequest(req, typeUrl);
      } catch (err) {
        this.close();
        failStream(call, grpc.status.INTERNAL, errorMessage(err));
      }
    });
    call.on("end", () => {
      this.close();
      call.end();
    });
    const close = (): void => this.close();
    call.on("error", close);
    call.on("cancelled", close);
    call.on("close", close);
  }

  /**
   * The record of the next response on this stream, under a fresh nonce: what callbacks see and
   * what the client's ACK or NACK will name. sotw and delta build their messages around it.
   */
  nextResponse(typeUrl: string, answer: ResponseContent): SentResponse {
    return {
      typeUrl,
      nonce: String(++this.nonceCounter),
      version: answer.version,
      resources: answer.resources.map((x) => ({ name: x.name, version: x.version })),
      removed: [...answer.removed],
      snapshotSetAt: answer.snapshotSetAt,
    };
  }

  /** Sent as `control_plane` in every response, so a proxy's config dump names its server. */
  get controlPlane(): { identifier: string } {
    return { identifier: this.opts.controlPlaneId };
  }

  /** Reports the client's answer to a response: an ACK, or a NACK when it carries an error. */
  reportInitialVersions(typeUrl: string, versions: ReadonlyMap<string, string>): void {
    if (versions.size > 0) this.opts.callbacks.onInitialVersions?.(this.info, typeUrl, versions);
  }

  reportAnswer(answered: SentResponse, errorDetail: RpcStatus | null | undefined): void {
    const detail = errorDetailText(errorDetail);
    if (detail !== undefined) this.opts.callbacks.onNack?.(this.info, answered, detail);
    else this.opts.callbacks.onAck?.(this.info, answered);
  }

  /**
   * Replaces the type's watch after a request. The previous watch goes first: it stands for the
   * old subscription, and the request hook may change the snapshot (which would answer that
   * stale watch). `open` creates the new watch with the answer callback it is given.
   */
  watch<Answer>(
    typeUrl: string,
    subscription: Subscription,
    open: (onAnswer: (a: Answer) => void) => CancelWatch,
    send: (a: Answer) => void,
  ): void {
    this.watches.get(typeUrl)?.();
    this.watches.delete(typeUrl);
    this.opts.callbacks.onStreamRequest?.(this.info, typeUrl, subscription);
    let answeredAtOnce = false;
    const cancel = open((a) => {
      answeredAtOnce = true;
      send(a);
    });
    if (!answeredAtOnce) this.watches.set(typeUrl, cancel); // else it answered at once and is gone
  }

  /** Writes a response that answered the type's watch, and reports it. */
  respond(sent: SentResponse, response: Res): void {
    this.watches.delete(sent.typeUrl); // a watch answers once
    this.call.write(response);
    this.opts.callbacks.onResponse?.(this.info, sent);
  }

  /**
   * Records the node the first time a request carries one, if the admission lets this stream
   * speak for it; a refused stream is failed here and serves nothing.
   */
  private learnNode(node: ProtoNode | null | undefined): "known" | "missing" | "refused" {
    if (this.info.node) return "known";
    if (!node || !node.id) return "missing";
    const claimed = nodeInfo(node);
    const refusal = this.opts.admission?.admit(this.info, claimed);
    if (refusal) {
      this.close();
      this.opts.callbacks.onStreamRefused?.(this.info, claimed, refusal);
      failStream(this.call, refusal.code, refusal.message);
      return "refused";
    }
    this.info.node = claimed;
    return "known";
  }

  /** ADS requests must name their type; the standalone ECDS service has only one. */
  private requestTypeUrl(typeUrl: string | undefined): string | undefined {
    if (typeUrl) return typeUrl;
    return this.service === "ecds" ? TYPED_EXTENSION_CONFIG_TYPE : undefined;
  }

  /** Ends the stream with `code` (a drain, a refusal); the client sees the status. */
  fail(code: grpc.status, message: string): void {
    if (this.closed) return;
    this.close();
    failStream(this.call, code, message);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.registry?.remove(this);
    for (const cancel of this.watches.values()) cancel();
    this.watches.clear();
    if (this.info.node) this.opts.admission?.release(this.info, this.info.node);
    this.opts.callbacks.onStreamClosed?.(this.info);
  }
}

/** The URI SAN `spiffe://…` of a verified client certificate; undefined on plaintext or without one. */
export function peerSpiffeId(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, "getAuthContext">): string | undefined {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  for (const part of san.split(", ")) {
    if (part.startsWith("URI:spiffe://")) return part.slice(4);
  }
  return undefined;
}

function errorDetailText(e: RpcStatus | null | undefined): string | undefined {
  if (!e) return undefined;
  if (!e.message && !e.code) return undefined;
  return e.message || `code ${e.code ?? 0}`;
}

/**
 * Fails the stream with a status the client sees (e.g. a first request without a node). grpc-js
 * turns an 'error' event on a server stream into the call's final status.
 */
function failStream<Req, Res>(call: grpc.ServerDuplexStream<Req, Res>, code: grpc.status, message: string): void {
  call.emit("error", Object.assign(new Error(message), { code, details: message }));
}
