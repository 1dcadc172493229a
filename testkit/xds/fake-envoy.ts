// A real gRPC client (grpc-js over 127.0.0.1) that plays an Envoy asking for ECDS resources,
// sotw or delta, over ADS or the standalone ECDS service. Tests drive it request by request.
import * as grpc from "@grpc/grpc-js";
import { loadServices } from "../../xds-server/src/xds/protos.js";
import { decodeFilterResource, type DecodedFilterResource } from "../../xds-server/src/push/resources.js";
import { TYPED_EXTENSION_CONFIG_TYPE } from "../../api/resources.js";
import {
  jsonToStruct,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type ProtoNode,
} from "../../xds-server/src/xds/server/messages.js";

export interface FakeNode {
  id: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  serviceAccount?: string;
}

function protoNode(n: FakeNode): ProtoNode {
  const md: Record<string, unknown> = {};
  if (n.namespace) md["NAMESPACE"] = n.namespace;
  if (n.labels) md["LABELS"] = n.labels;
  if (n.annotations) md["ANNOTATIONS"] = n.annotations;
  if (n.serviceAccount) md["SERVICE_ACCOUNT"] = n.serviceAccount;
  return { id: n.id, cluster: "test", metadata: jsonToStruct(md) };
}

type Service = "ads" | "ecds";

class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (v: T) => void; reject: (e: Error) => void } | undefined;
  ended: Error | undefined;
  push(v: T): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w.resolve(v);
    else this.items.push(v);
  }
  /** The stream ended: a pending and every later next() rejects with `e` once the queue is empty. */
  end(e: Error): void {
    this.ended ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.ended);
  }
  /** The next message, or a rejection after `ms` (or when the stream ends). */
  next(ms = 5000): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${ms} ms`));
      }, ms);
      this.waiter = {
        resolve: (x) => {
          clearTimeout(t);
          resolve(x);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
    });
  }
  /** Resolves true if nothing arrives within `ms`; a stream that ended meanwhile is an error, not quiet. */
  async nothingWithin(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch (err) {
      if (this.ended) throw err;
      return true;
    }
  }
  get pending(): number {
    return this.items.length;
  }
}

function client(address: string, service: Service, creds: grpc.ChannelCredentials): grpc.Client {
  const { clients } = loadServices();
  const Ctor = service === "ads" ? clients.ads : clients.ecds;
  return new Ctor(address, creds);
}

/**
 * One stream as Envoy opens it: responses queue in `inbox`, the node travels with the first request
 * only. The sotw and delta clients add their requests on top.
 */
class FakeStream<Req extends { node?: ProtoNode | null; type_url?: string }, Res> {
  readonly inbox = new Inbox<Res>();
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Req, Res>;
  private first = true;

  constructor(address: string, readonly service: Service, readonly node: FakeNode, method: string, creds?: grpc.ChannelCredentials) {
    this.client = client(address, service, creds ?? grpc.credentials.createInsecure());
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Req, Res>>)[method]!.call(this.client);
    this.call.on("data", (r: Res) => this.inbox.push(r));
    this.call.on("error", (e: Error) => this.inbox.end(e));
    this.call.on("end", () => this.inbox.end(new Error("stream ended")));
  }

  /** A request; the node travels with the first one only, as Envoy does. */
  send(req: Omit<Req, "node">): void {
    this.call.write({ type_url: TYPED_EXTENSION_CONFIG_TYPE, ...req, ...(this.first ? { node: protoNode(this.node) } : {}) } as Req);
    this.first = false;
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

export class SotwEnvoy extends FakeStream<DiscoveryRequest, DiscoveryResponse> {
  /** `creds`: TLS or mTLS to a server started with `tls` (default plaintext). */
  constructor(address: string, service: Service, node: FakeNode, creds?: grpc.ChannelCredentials) {
    super(address, service, node, service === "ads" ? "StreamAggregatedResources" : "StreamExtensionConfigs", creds);
  }

  subscribe(names: string[], versionInfo = ""): void {
    this.send({ resource_names: names, version_info: versionInfo });
  }

  ack(r: Pick<DiscoveryResponse, "version_info" | "nonce">, names: string[]): void {
    this.send({ resource_names: names, version_info: r.version_info, response_nonce: r.nonce });
  }

  nack(r: Pick<DiscoveryResponse, "nonce">, names: string[], lastGoodVersion: string, message: string): void {
    this.send({
      resource_names: names,
      version_info: lastGoodVersion,
      response_nonce: r.nonce,
      error_detail: { code: 3, message },
    });
  }
}

export class DeltaEnvoy extends FakeStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  constructor(address: string, service: Service, node: FakeNode, creds?: grpc.ChannelCredentials) {
    super(address, service, node, service === "ads" ? "DeltaAggregatedResources" : "DeltaExtensionConfigs", creds);
  }

  subscribe(names: string[], initial: Record<string, string> = {}): void {
    this.send({ resource_names_subscribe: names, initial_resource_versions: initial });
  }

  ack(r: Pick<DeltaDiscoveryResponse, "nonce">): void {
    this.send({ response_nonce: r.nonce });
  }

  nack(r: Pick<DeltaDiscoveryResponse, "nonce">, message: string): void {
    this.send({ response_nonce: r.nonce, error_detail: { code: 3, message } });
  }
}

/** The filter resource of a sotw response, decoded. */
export function sotwConfigs(r: DiscoveryResponse): DecodedFilterResource[] {
  return r.resources.map((a) => {
    if (a.type_url !== TYPED_EXTENSION_CONFIG_TYPE) throw new Error(`unexpected ${a.type_url}`);
    return decodeFilterResource(a.value);
  });
}

export function deltaConfigs(r: DeltaDiscoveryResponse): Array<DecodedFilterResource & { version: string }> {
  return r.resources.map((x) => ({ ...decodeFilterResource(x.resource.value), version: x.version }));
}

/** Polls until `check` holds or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
