// The server end of the filters' report channel: a unary gRPC method on the xDS server's own gRPC
// port, `/picoseg.observe.v1.Observations/Report`, whose body is the JSON of observe/report.ts.
// Envoy calls it through the cluster its xDS stream uses, so a report arrives over the same TLS,
// with the same client certificate, as the proxy's xDS stream. A report is accepted only for a
// node that holds an xDS stream here, and only over the identity that stream proved.
import * as grpc from "@grpc/grpc-js";
import { Counter, type Registry } from "prom-client";
import { workloadName } from "../../../api/workload.js";
import { type NodeInfo, type Callbacks, type StreamInfo, peerSpiffeId } from "../xds/index.js";
import { parseReport, ReportError } from "./report.js";
import { MAX_REPORT_BYTES, type ProxyReport } from "../../../api/report.js";
import type { ObservationStore } from "./store.js";
import { defined } from "../util/index.js";

export const REPORT_SERVICE = "picoseg.observe.v1.Observations";
export const REPORT_PATH = `/${REPORT_SERVICE}/Report`;

/** Which nodes hold an xDS stream here, and the identity (SPIFFE ID) each proved; fed by the stream callbacks. */
export class ReportingProxies implements Callbacks {
  private readonly nodes = new Map<string, { node: NodeInfo; identity?: string; streams: Set<number> }>();

  onStreamRequest(stream: StreamInfo): void {
    const node = stream.node;
    if (!node) return;
    const held = this.nodes.get(node.id);
    if (held) held.streams.add(stream.id);
    else this.nodes.set(node.id, { node, ...defined({ identity: stream.identity }), streams: new Set([stream.id]) });
  }

  onStreamClosed(stream: StreamInfo): void {
    const id = stream.node?.id;
    const held = id !== undefined ? this.nodes.get(id) : undefined;
    if (!held) return;
    held.streams.delete(stream.id);
    if (held.streams.size === 0) this.nodes.delete(id!);
  }

  lookup(nodeId: string): { node: NodeInfo; identity?: string } | undefined {
    return this.nodes.get(nodeId);
  }
}

export type ReportResult = "accepted" | "duplicate" | "unknown-node" | "identity-mismatch" | "malformed" | "oversize";

export interface ObservationServiceOptions {
  proxies: ReportingProxies;
  store: ObservationStore;
  registry: Registry;
  /** Every report needs a verified client certificate (the server runs mTLS). */
  requireIdentity: boolean;
  /** An accepted report, after it was stored (the live feed listens here). */
  onReport?(workload: string, report: ProxyReport): void;
  log?: (line: string) => void;
}

/** Decides on one report body from a caller with `identity`; the outcome and, if refused, the status. */
export function judgeReport(
  body: Buffer,
  identity: string | undefined,
  opts: Pick<ObservationServiceOptions, "proxies" | "store" | "requireIdentity">,
): { result: ReportResult; code: grpc.status; message: string; workload?: string; report?: ProxyReport } {
  if (body.length > MAX_REPORT_BYTES) {
    return { result: "oversize", code: grpc.status.RESOURCE_EXHAUSTED, message: `report of ${body.length} bytes is larger than ${MAX_REPORT_BYTES}` };
  }
  let report: ProxyReport;
  try {
    report = parseReport(body);
  } catch (err) {
    if (!(err instanceof ReportError)) throw err;
    return { result: "malformed", code: grpc.status.INVALID_ARGUMENT, message: `malformed report: ${err.message}` };
  }
  const held = opts.proxies.lookup(report.node);
  if (!held) {
    return { result: "unknown-node", code: grpc.status.NOT_FOUND, message: `node "${report.node}" holds no xDS stream to this server; reports are accepted only from proxies it serves` };
  }
  if ((opts.requireIdentity || held.identity !== undefined) && identity !== held.identity) {
    return {
      result: "identity-mismatch",
      code: grpc.status.PERMISSION_DENIED,
      message: `node "${report.node}" proved ${held.identity ?? "no identity"} on its xDS stream; this report comes with ${identity ?? "no client certificate"}`,
    };
  }
  // NS/NAME, NAME being WORKLOAD_NAME, else label app, else the node id (as the decision counters name it).
  const workload = workloadName(held.node.workload, report.node);
  const stored = opts.store.add({ at: Date.now(), node: report.node, workload, labels: held.node.workload.labels, report });
  return { result: stored ? "accepted" : "duplicate", code: grpc.status.OK, message: "", workload, report };
}

export function addObservationService(server: grpc.Server, opts: ObservationServiceOptions): void {
  const reports = new Counter({
    name: "picoseg_observe_reports_total",
    help: "Reports from the filters' learning mode, by result (accepted, duplicate, unknown-node, identity-mismatch, malformed, oversize)",
    labelNames: ["result"],
    registers: [opts.registry],
  });
  const dropped = new Counter({
    name: "picoseg_observe_dropped_total",
    help: "Connections and denials the filters could not aggregate for want of room (reported by them)",
    registers: [opts.registry],
  });
  const raw = (b: Buffer): Buffer => b;
  server.addService(
    {
      Report: {
        path: REPORT_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Report: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const verdict = judgeReport(call.request, peerSpiffeId(call), opts);
        reports.inc({ result: verdict.result });
        if (verdict.code !== grpc.status.OK) {
          opts.log?.(`picoseg: refused a report from ${call.getPeer()}: ${verdict.message}`);
          callback({ code: verdict.code, details: verdict.message });
          return;
        }
        if (verdict.result === "accepted" && verdict.report && verdict.workload !== undefined) {
          dropped.inc(verdict.report.dropped.conns + verdict.report.dropped.denials);
          opts.onReport?.(verdict.workload, verdict.report);
        }
        callback(null, Buffer.alloc(0));
      },
    },
  );
}
