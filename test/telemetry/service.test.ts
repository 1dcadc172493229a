import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { judgeReport, ReportingProxies } from "../../xds-server/src/telemetry/service.js";
import { ObservationStore } from "../../xds-server/src/telemetry/store.js";
import type { StreamInfo } from "../../xds-server/src/xds/server/callbacks.js";
import { report } from "./fixtures.js";

function proxies(identity?: string): ReportingProxies {
  const p = new ReportingProxies();
  const stream: StreamInfo = {
    id: 1,
    service: "ecds",
    protocol: "sotw",
    peer: "127.0.0.1:1",
    openedAt: 0,
    ...(identity !== undefined ? { identity } : {}),
    node: { id: "db-1", cluster: "", metadata: {}, workload: { namespace: "payments", labels: { app: "db" }, annotations: {}, name: "db" } },
  };
  p.onStreamRequest(stream);
  return p;
}

const body = (x: unknown): Buffer => Buffer.from(JSON.stringify(x));
const SA = "spiffe://cluster.local/ns/payments/sa/db";

describe("a report reaching the server", () => {
  it("is stored under its workload when its node holds an xDS stream", () => {
    const store = new ObservationStore();
    const v = judgeReport(body(report()), undefined, { proxies: proxies(), store, requireIdentity: false });
    expect(v).toMatchObject({ result: "accepted", code: grpc.status.OK, workload: "payments/db" });
    expect(store.query("payments/db", 0)[0]?.labels).toEqual({ app: "db" });
    expect(judgeReport(body(report()), undefined, { proxies: proxies(), store, requireIdentity: false }).result).toBe("duplicate");
  });

  it("is refused with NOT_FOUND for a node the server does not serve", () => {
    const v = judgeReport(body(report({ node: "stranger" })), undefined, { proxies: proxies(), store: new ObservationStore(), requireIdentity: false });
    expect(v).toMatchObject({ result: "unknown-node", code: grpc.status.NOT_FOUND });
    expect(v.message).toMatch(/node "stranger" holds no xDS stream/);
  });

  it("is refused with PERMISSION_DENIED over another identity than the node's xDS stream proved", () => {
    const opts = { proxies: proxies(SA), store: new ObservationStore(), requireIdentity: true };
    expect(judgeReport(body(report()), "spiffe://cluster.local/ns/payments/sa/api", opts)).toMatchObject({ result: "identity-mismatch", code: grpc.status.PERMISSION_DENIED });
    expect(judgeReport(body(report()), undefined, opts)).toMatchObject({ result: "identity-mismatch" });
    expect(judgeReport(body(report()), SA, opts)).toMatchObject({ result: "accepted" });
  });

  it("is refused with INVALID_ARGUMENT when malformed and RESOURCE_EXHAUSTED when oversize", () => {
    const opts = { proxies: proxies(), store: new ObservationStore(), requireIdentity: false };
    expect(judgeReport(Buffer.from("{}"), undefined, opts)).toMatchObject({ result: "malformed", code: grpc.status.INVALID_ARGUMENT });
    expect(judgeReport(Buffer.alloc(2 * 1024 * 1024, 32), undefined, opts)).toMatchObject({ result: "oversize", code: grpc.status.RESOURCE_EXHAUSTED });
  });

  it("is refused once the node's last stream closed", () => {
    const p = proxies();
    p.onStreamClosed({ id: 1, service: "ecds", protocol: "sotw", peer: "", openedAt: 0, node: { id: "db-1", cluster: "", metadata: {}, workload: { namespace: "payments", labels: {}, annotations: {} } } });
    expect(judgeReport(body(report()), undefined, { proxies: p, store: new ObservationStore(), requireIdentity: false }).result).toBe("unknown-node");
  });
});
