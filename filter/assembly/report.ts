// Learning mode's report channel: the root context's tick hands the interval's observations to
// the picoseg server as one unary gRPC call (picoseg.observe.v1.Observations/Report, a JSON body)
// through Envoy's own gRPC client, over the cluster the configuration names (the proxy's xDS
// cluster, so the call reuses its TLS and identity). The call is asynchronous: traffic never
// waits for it. A body that was not accepted stays pending and is sent again at the next flush,
// while new observations keep aggregating in the bounded tables (observe.ts).
import { defineCounter, hostGetProperty, hostLen, hostPtr, incrementCounter, releaseHost, OK } from "./hostcalls";
import { Observations } from "./observe";
import { proxy_get_current_time_nanoseconds, proxy_increment_metric } from "@solo-io/proxy-runtime/imports";

// ABI 0.2.1 (the SDK 0.1.8 declares it without the initial-metadata arguments).
// @ts-ignore: decorator
@external("env", "proxy_grpc_call")
declare function proxy_grpc_call(
  servicePtr: usize, serviceSize: usize, serviceNamePtr: usize, serviceNameSize: usize, methodPtr: usize, methodSize: usize,
  metadataPtr: usize, metadataSize: usize, messagePtr: usize, messageSize: usize, timeoutMs: u32, tokenPtr: usize,
): u32;

// WASI's random_get, which Envoy's Wasm host provides (proxy-wasm-cpp-host) as it does proc_exit.
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "random_get")
declare function random_get(buf: usize, len: usize): u16;

export const REPORT_SERVICE = "picoseg.observe.v1.Observations";
export const REPORT_METHOD = "Report";
const GRPC_INVALID_ARGUMENT: u32 = 3;
const GRPC_PERMISSION_DENIED: u32 = 7;
const GRPC_RESOURCE_EXHAUSTED: u32 = 8;
/** A report not answered within this time counts as failed (Envoy ends the call with DEADLINE_EXCEEDED). */
const CALL_TIMEOUT_MS: u32 = 5000;

const SERVICE_NAME = String.UTF8.encode(REPORT_SERVICE);
const METHOD_NAME = String.UTF8.encode(REPORT_METHOD);
const NUL = String.fromCharCode(0);
const NODE_ID_PATHS: StaticArray<ArrayBuffer> = [String.UTF8.encode("node" + NUL + "id"), String.UTF8.encode("xds" + NUL + "node" + NUL + "id")];
const P_NODE = String.UTF8.encode("node");
const OUT_TOKEN: usize = heap.alloc(8);

/** A serialized envoy.config.core.v3.GrpcService { envoy_grpc { cluster_name } }: what proxy_grpc_call expects. */
export function grpcServiceFor(cluster: string): ArrayBuffer {
  let name = Uint8Array.wrap(String.UTF8.encode(cluster));
  let inner = new Uint8Array(name.length + 1 + varintSize(<u32>name.length));
  let o = 0;
  inner[o++] = 0x0a; // EnvoyGrpc.cluster_name = 1, length-delimited
  o = putVarint(inner, o, <u32>name.length);
  inner.set(name, o);
  let out = new Uint8Array(inner.length + 1 + varintSize(<u32>inner.length));
  o = 0;
  out[o++] = 0x0a; // GrpcService.envoy_grpc = 1, length-delimited
  o = putVarint(out, o, <u32>inner.length);
  out.set(inner, o);
  return out.buffer;
}

function varintSize(v: u32): i32 {
  let n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

function putVarint(b: Uint8Array, o: i32, v: u32): i32 {
  while (v >= 0x80) { b[o++] = <u8>((v & 0x7f) | 0x80); v >>= 7; }
  b[o++] = <u8>v;
  return o;
}

/**
 * This Envoy's node id, read once; "" when the host does not say. Envoy answers the `node`
 * attribute as the serialized envoy.config.core.v3.Node (its field 1 is the id); `node.id` and
 * `xds.node.id` are tried first for hosts that resolve the path themselves.
 */
var nodeIdRead = false;
var nodeIdText = "";
function nodeId(): string {
  if (nodeIdRead) return nodeIdText;
  nodeIdRead = true;
  for (let i = 0; i < NODE_ID_PATHS.length; i++) {
    if (!hostGetProperty(NODE_ID_PATHS[i])) continue;
    if (hostLen > 0 && hostLen <= 1024) nodeIdText = String.UTF8.decodeUnsafe(hostPtr, hostLen);
    releaseHost();
    if (nodeIdText.length > 0) return nodeIdText;
  }
  if (hostGetProperty(P_NODE)) {
    nodeIdText = protoField1(hostPtr, hostLen);
    releaseHost();
  }
  return nodeIdText;
}

/** Field 1 (length-delimited) of a serialized message, when it comes first, as Node's id does. */
function protoField1(p: usize, len: usize): string {
  if (len < 2 || load<u8>(p) != 0x0a) return "";
  let n: usize = 0;
  let shift: usize = 0;
  let i: usize = 1;
  while (i < len && i < 6) {
    let b = <usize>load<u8>(p + i);
    n |= (b & 0x7f) << shift;
    i++;
    if ((b & 0x80) == 0) break;
    shift += 7;
  }
  if (n == 0 || n > 1024 || i + n > len) return "";
  return String.UTF8.decodeUnsafe(p + i, n);
}

export class Reporter {
  cluster: string;
  service: ArrayBuffer;
  intervalMs: i64;
  nextFlushMs: i64 = 0;
  /** The body being sent or waiting to be sent again; null when everything was accepted. */
  pending: ArrayBuffer | null = null;
  /** Token of the call in flight, 0 when none. */
  token: u32 = 0;
  /** The root context that made it: Envoy cancels a deleted context's calls without a callback. */
  callRoot: u32 = 0;
  sentAtMs: i64 = 0;
  seq: u64 = 0;
  /**
   * When this reporter started, in µs: with `instance`, names its stream of reports (seq restarts
   * with a new VM, and each Envoy worker runs a VM of its own).
   */
  boot: i64 = 0;
  /**
   * Drawn at random when this reporter started: two workers whose first ticks fall in the same µs
   * (it happens: they are configured together) still name two streams, so that the server does
   * not take the second one's reports for resent copies of the first one's.
   */
  instance: u32 = 0;
  sent: u32;
  failed: u32;
  dropped: u32;

  constructor(cluster: string, intervalMs: u64) {
    this.cluster = cluster;
    this.service = grpcServiceFor(cluster);
    this.intervalMs = <i64>(intervalMs < 100 ? 100 : intervalMs);
    this.sent = defineCounter("picoseg.observe.reports_sent");
    this.failed = defineCounter("picoseg.observe.reports_failed");
    this.dropped = defineCounter("picoseg.observe.dropped");
  }

  /** From root context `rootId`'s tick: at each interval, the pending body (else this interval's) goes out. */
  tick(obs: Observations, now: i64, rootId: u32): void {
    if (this.token != 0) {
      // Envoy ends every call by its timeout; this only guards a host that never answers.
      if (now - this.sentAtMs < <i64>CALL_TIMEOUT_MS * 2) return;
      this.token = 0;
      incrementCounter(this.failed);
    }
    if (this.nextFlushMs == 0) {
      this.boot = nowMicros(now);
      this.instance = randomU32();
      this.nextFlushMs = now + this.intervalMs;
    }
    if (now < this.nextFlushMs) return;
    this.nextFlushMs = now + this.intervalMs;
    if (this.pending === null) {
      if (obs.empty) return;
      let lost = obs.droppedConns + obs.droppedDenials;
      if (lost > 0) incrementBy(this.dropped, lost);
      this.seq++;
      this.pending = String.UTF8.encode(obs.takeReport(nodeId(), this.boot, this.instance, this.seq, now));
    }
    let body = this.pending as ArrayBuffer;
    store<u32>(OUT_TOKEN, 0);
    let rc = proxy_grpc_call(
      changetype<usize>(this.service), <usize>this.service.byteLength,
      changetype<usize>(SERVICE_NAME), <usize>SERVICE_NAME.byteLength,
      changetype<usize>(METHOD_NAME), <usize>METHOD_NAME.byteLength,
      0, 0,
      changetype<usize>(body), <usize>body.byteLength,
      CALL_TIMEOUT_MS, OUT_TOKEN,
    );
    if (rc != OK) {
      incrementCounter(this.failed); // e.g. no such cluster: kept, tried again next interval
      return;
    }
    this.token = load<u32>(OUT_TOKEN);
    if (this.token == 0) this.token = 0xffffffff;
    this.callRoot = rootId;
    this.sentAtMs = now;
  }

  /**
   * Root context `rootId` is being deleted (a configuration replaced): Envoy cancels its calls and
   * never answers them, so a body it was sending goes out again from another root's next flush.
   */
  rootGone(rootId: u32): void {
    if (this.token != 0 && this.callRoot == rootId) this.token = 0;
  }

  /**
   * The call ended: gRPC status 0 means the server stored the body. A body the server refused for
   * what it is (INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED) would be refused again:
   * it is dropped, so that the next interval's observations go out; any other failure (the server
   * away, this node not yet known after its restart) keeps it for the next interval.
   */
  done(token: u32, status: u32): void {
    if (token != this.token) return;
    this.token = 0;
    if (status == 0) {
      this.pending = null;
      incrementCounter(this.sent);
      return;
    }
    incrementCounter(this.failed);
    if (status == GRPC_INVALID_ARGUMENT || status == GRPC_PERMISSION_DENIED || status == GRPC_RESOURCE_EXHAUSTED) this.pending = null;
  }
}

function nowMicros(fallbackMs: i64): i64 {
  store<u64>(OUT_TOKEN, 0);
  if (proxy_get_current_time_nanoseconds(OUT_TOKEN) != OK) return fallbackMs * 1000;
  return <i64>(load<u64>(OUT_TOKEN) / 1000);
}

/** 32 random bits from the host; 0 when it has none (the stream is then named by node and boot alone). */
function randomU32(): u32 {
  store<u32>(OUT_TOKEN, 0);
  return random_get(OUT_TOKEN, 4) == 0 ? load<u32>(OUT_TOKEN) : 0;
}

function incrementBy(id: u32, n: u64): void {
  if (id != 0xffffffff) proxy_increment_metric(id, <i64>n);
}
