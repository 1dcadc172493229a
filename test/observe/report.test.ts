import { describe, expect, it } from "vitest";
import { MAX_REPORT_BYTES, parseReport } from "../../xds-server/src/observe/report.js";
import { conn, report } from "./fixtures.js";

const body = (x: unknown): string => JSON.stringify(x);

describe("a proxy's report body", () => {
  it("reads back what the filter writes", () => {
    const r = report({ denials: [{ reason: "source", principal: "", ip: "10.9.9.9", port: 5432, mode: "enforce", n: 2 }] });
    expect(parseReport(body(r))).toEqual(r);
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["another version", body({ ...report(), v: 2 }), /^v: expected 1/],
    ["no node id", body({ ...report(), node: "" }), /node: empty/],
    ["an hour past the week", body(report({ conns: [conn({ hour: 168 })] })), /conns\[0\]\.hour: 168 is not an hour/],
    ["a port past 65535", body(report({ conns: [conn({ port: 70000 })] })), /conns\[0\]\.port: 70000 is not a port/],
    ["an unknown protocol", body({ ...report(), conns: [{ ...conn(), proto: "ftp" }] }), /conns\[0\]\.proto: "ftp"/],
    ["min above max", body(report({ conns: [conn({ in: [10, 9, 5] })] })), /conns\[0\]\.in: expected min <= max <= sum/],
    ["an unknown reason", body({ ...report(), denials: [{ reason: "nope", principal: "", ip: "", port: 1, mode: "audit", n: 1 }] }), /denials\[0\]\.reason/],
    ["a negative count", body(report({ conns: [conn({ n: -1 })] })), /conns\[0\]\.n: expected a non-negative integer/],
  ])("refuses %s, naming the field", (_what, text, message) => {
    expect(() => parseReport(text)).toThrow(message);
  });

  it(`refuses a body larger than ${MAX_REPORT_BYTES} bytes unread`, () => {
    expect(() => parseReport(Buffer.alloc(MAX_REPORT_BYTES + 1, 32))).toThrow(/larger than/);
  });
});
