import { describe, expect, it } from "vitest";
import { parseReport } from "../../xds-server/src/telemetry/report.js";
import { MAX_REPORT_BYTES } from "../../api/report.js";
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
    ["an unknown framing", body(report({ conns: [conn({ framing: "lengthPrefixed 1 3 big 0" })] })), /conns\[0\]\.framing: "lengthPrefixed 1 3 big 0" is not a framing/],
    ["a delimiter that is not UTF-8", body(report({ conns: [conn({ framing: "delimited ff" })] })), /conns\[0\]\.framing: "delimited ff"/],
    ["a framing that is not text", body({ ...report(), conns: [{ ...conn(), framing: 7 }] }), /conns\[0\]\.framing: expected a string/],
  ])("refuses %s, naming the field", (_what, text, message) => {
    expect(() => parseReport(text)).toThrow(message);
  });

  it("keeps the framing each aggregate's message sizes were measured under", () => {
    const framings = ["chunk", "lengthPrefixed 1 4 big -4", "lengthPrefixed 0 2 little 0", "delimited 0d0a", "postgres", "mqtt", "kafka"];
    const r = report({ conns: framings.map((framing) => conn({ framing })) });
    expect(parseReport(body(r)).conns.map((c) => c.framing)).toEqual(framings);
  });

  it("reads a report of a filter from before framings as measured on reads (chunk)", () => {
    const { framing: _dropped, ...old } = conn();
    expect(parseReport(body({ ...report(), conns: [old] })).conns[0]?.framing).toBe("chunk");
  });

  it(`refuses a body larger than ${MAX_REPORT_BYTES} bytes unread`, () => {
    expect(() => parseReport(Buffer.alloc(MAX_REPORT_BYTES + 1, 32))).toThrow(/larger than/);
  });
});
