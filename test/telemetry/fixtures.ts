// Report bodies as the filter writes them (filter/assembly/observe.ts), for the server-side tests.
import type { ConnAggregate, ProxyReport } from "../../api/report.js";

export function conn(over: Partial<ConnAggregate> = {}): ConnAggregate {
  return {
    principal: "",
    ip: "10.1.2.3",
    port: 5432,
    proto: "postgres",
    hour: 32, // Tuesday 08:00 UTC
    n: 4,
    in: [4000, 500, 1500],
    out: [40_000, 5000, 15_000],
    msg: [400, 900],
    framing: "chunk",
    dur: [100, 2500],
    ...over,
  };
}

export function report(over: Partial<ProxyReport> = {}): ProxyReport {
  return {
    v: 1,
    node: "db-1",
    boot: 1_700_000_000_000_000,
    instance: 0,
    seq: 1,
    from: Date.UTC(2026, 0, 6, 8, 0, 0),
    to: Date.UTC(2026, 0, 6, 8, 0, 5),
    conns: [conn()],
    denials: [],
    dropped: { conns: 0, denials: 0 },
    ...over,
  };
}
