// The small parsers under validation and compilation: addresses, quantities, durations, ports,
// field paths.

import { describe, expect, it } from "vitest";
import { parseCidr } from "../../xds-server/src/policy/cidr.js";
import { formatPath, pointerToPath } from "../../xds-server/src/policy/path.js";
import { parsePort } from "../../xds-server/src/policy/ports.js";
import { parseDuration, parsePositiveIntegerText, parseQuantity } from "../../xds-server/src/policy/quantity.js";

const canonical = (text: string): string => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value.canonical;
};

describe("CIDR canonical form (RFC 5952 for IPv6)", () => {
  it("compresses the longest run of zero groups, the first when tied, never a single group", () => {
    expect(canonical("2001:0db8:0000:0000:0000:0000:0000:0001/128")).toBe("2001:db8::1/128");
    expect(canonical("1:0:0:2:0:0:3:4/128")).toBe("1::2:0:0:3:4/128");
    expect(canonical("1:0:0:2:0:0:0:4/128")).toBe("1:0:0:2::4/128");
    expect(canonical("1:0:2:3:4:5:6:7/128")).toBe("1:0:2:3:4:5:6:7/128");
    expect(canonical("::/0")).toBe("::/0");
    expect(canonical("::1")).toBe("::1/128");
    expect(canonical("1::")).toBe("1::/128");
  });

  it("writes embedded IPv4 as hex groups and IPv4 as dotted decimal", () => {
    expect(canonical("::ffff:192.0.2.128/128")).toBe("::ffff:c000:280/128");
    expect(canonical("192.0.2.0/24")).toBe("192.0.2.0/24");
    expect(canonical("0.0.0.0/0")).toBe("0.0.0.0/0");
  });

  it("keeps prefix bits across byte boundaries", () => {
    expect(canonical("10.128.0.0/9")).toBe("10.128.0.0/9");
    expect(parseCidr("10.192.0.0/9").ok).toBe(false);
    expect(canonical("2001:db8:8000::/33")).toBe("2001:db8:8000::/33");
  });

  it("refuses malformed addresses", () => {
    for (const bad of ["", "/8", "10.0.0.0/", "10.0.0.0/08", "1.2.3.4.5", "1::2::3", ":::", "12345::/16", "1:2:3:4:5:6:7:8:9", "::ffff:1.2.3/128", "10.0.0.0 /8"]) {
      expect(parseCidr(bad).ok, bad).toBe(false);
    }
  });
});

describe("quantities, durations, ports", () => {
  it("quantities mean what a Kubernetes Quantity means: binary and decimal suffixes, exponents, fractions rounded up", () => {
    const bytes: Array<[string | number, number]> = [
      ["64Ki", 65536], ["10Mi", 10485760], ["1Gi", 1073741824], ["2Ti", 2 * 2 ** 40], ["1Pi", 2 ** 50], [0, 0],
      ["10M", 10_000_000], ["1G", 1e9], ["500k", 500_000], ["2T", 2e12], ["1P", 1e15], ["1e3", 1000], ["1E3", 1000], ["2e+2", 200],
      ["1.5Gi", 1610612736], ["0.3k", 300], ["1.1Ki", 1127], ["500m", 1], ["1e-3", 1], [".5", 1], ["5.", 5], ["+7", 7], ["007", 7], ["-0", 0], ["Mi", 0], [".", 0],
    ];
    for (const [text, value] of bytes) expect(parseQuantity(text), String(text)).toEqual({ ok: true, value });
    for (const bad of ["-1", "1K", "1KB", "1 Mi", " 1", "", "1e", "1e+", "1e3Ki", "1e1.5", "0x10", "Infinity", "1Ei", "1E", 1.5, -1, null]) {
      expect(parseQuantity(bad).ok, String(bad)).toBe(false);
    }
  });

  it("durations are positive, in seconds", () => {
    expect(parseDuration("90s")).toEqual({ ok: true, value: 90 });
    expect(parseDuration("10m")).toEqual({ ok: true, value: 600 });
    expect(parseDuration("1h")).toEqual({ ok: true, value: 3600 });
    expect(parseDuration("2d")).toEqual({ ok: true, value: 172800 });
    for (const bad of ["0s", "0m", "1.5h", "1w", "h", "60", "-1s", "1h30m"]) expect(parseDuration(bad).ok, bad).toBe(false);
  });

  it("annotation seconds are positive integers written as digits", () => {
    expect(parsePositiveIntegerText("3600")).toEqual({ ok: true, value: 3600 });
    for (const bad of ["0", "-1", "1.0", "1e3", "", "1h"]) expect(parsePositiveIntegerText(bad).ok, bad).toBe(false);
  });

  it("ports and ranges", () => {
    expect(parsePort(1)).toEqual({ ok: true, value: { lo: 1, hi: 1 } });
    expect(parsePort("8000-8100")).toEqual({ ok: true, value: { lo: 8000, hi: 8100 } });
    expect(parsePort("65535")).toEqual({ ok: true, value: { lo: 65535, hi: 65535 } });
    for (const bad of [0, 65536, "100-1", "1 - 2", "1-", "-5", "a-b", 5.5]) expect(parsePort(bad).ok, String(bad)).toBe(false);
  });
});

describe("field paths", () => {
  it("are dotted, with indexes in brackets and odd keys quoted", () => {
    expect(formatPath(["spec", "rules", 0, "limits", "maxBytesIn"])).toBe("spec.rules[0].limits.maxBytesIn");
    expect(formatPath(["spec", "selector", "matchLabels", "app.kubernetes.io/name"])).toBe('spec.selector.matchLabels["app.kubernetes.io/name"]');
    expect(pointerToPath("/spec/selector/matchLabels/app.kubernetes.io~1name")).toEqual(["spec", "selector", "matchLabels", "app.kubernetes.io/name"]);
    expect(pointerToPath("/spec/rules/12/ports/0")).toEqual(["spec", "rules", 12, "ports", 0]);
  });
});
