// Validation rules of PicoSegment documents: each check, one document it accepts and one it
// refuses, with the error an operator reads (`file:line: field: message`).

import { describe, expect, it } from "vitest";
import { errorsOf, ruleDoc, segmentDoc } from "./helpers.js";
import { validatePolicyText } from "../../xds-server/src/policy/load.js";
import { formatPolicyError } from "../../api/status.js";

// In ruleDoc documents the rule `- name: r` is on line 8; its first attribute on line 9.

describe("document kind", () => {
  it("accepts a minimal segment: apiVersion, kind, metadata name and namespace, empty spec", () => {
    expect(errorsOf(segmentDoc("{}"))).toEqual([]);
  });

  it("skips an object of another API with a note; refuses another kind of its own group", () => {
    const other = validatePolicyText("apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\n", "t.yaml");
    expect(other.errors).toEqual([]);
    expect(other.notes.map(formatPolicyError)).toEqual(["t.yaml:1: skipped Deployment x: not a PicoSegment"]);
    expect(errorsOf("apiVersion: picoseg.io/v1alpha1\nkind: PicoSegmnt\nmetadata: { name: x }\n")).toEqual([
      't.yaml:2: kind: expected PicoSegment, found "PicoSegmnt"',
    ]);
  });

  it("refuses a PicoSegment of another apiVersion", () => {
    expect(errorsOf("apiVersion: picoseg.io/v1\nkind: PicoSegment\n")).toEqual([
      't.yaml:1: apiVersion: expected picoseg.io/v1alpha1, found "picoseg.io/v1"',
    ]);
  });

  it("refuses a document without kind", () => {
    expect(errorsOf("apiVersion: picoseg.io/v1alpha1\n")).toEqual(["t.yaml:1: kind: expected PicoSegment, found no kind"]);
  });

  it("refuses a document that is not a mapping", () => {
    expect(errorsOf("- a\n- b\n")).toEqual(["t.yaml:1: expected a PicoSegment mapping, found a list"]);
    expect(errorsOf("just text\n")).toEqual(['t.yaml:1: expected a PicoSegment mapping, found "just text"']);
  });

  it("requires metadata.name, metadata.namespace and spec", () => {
    expect(errorsOf("apiVersion: picoseg.io/v1alpha1\nkind: PicoSegment\nmetadata: {}\n")).toEqual([
      "t.yaml:1: spec: is required",
      "t.yaml:3: metadata.name: is required",
      "t.yaml:3: metadata.namespace: is required",
    ]);
  });
});

describe("names", () => {
  it("metadata.name and namespace are DNS-1123 labels", () => {
    expect(errorsOf(segmentDoc("{}", "payments-db-2", "payments"))).toEqual([]);
    const errors = errorsOf(segmentDoc("{}", "Payments_DB", "-payments"));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^t\.yaml:4: metadata\.name: "Payments_DB" is not a DNS-1123 label/);
    expect(errors[1]).toMatch(/^t\.yaml:5: metadata\.namespace: "-payments" is not a DNS-1123 label/);
    expect(errorsOf(segmentDoc("{}", "a".repeat(64)))).toHaveLength(1);
  });

  it("rule names are single tokens of letters, digits, '-', '_' and '.'", () => {
    expect(errorsOf(segmentDoc("rules: [{ name: api-to-db.v2_1 }]"))).toEqual([]);
    expect(errorsOf(segmentDoc('rules: [{ name: "api to db" }]'))[0]).toMatch(/^t\.yaml:7: spec\.rules\[0\]\.name: "api to db" is not a rule name/);
  });

  it("a rule name used twice in one segment is refused at its second use, naming the first", () => {
    const doc = segmentDoc(`
      rules:
        - name: web
        - name: admin
        - name: web
    `);
    expect(errorsOf(doc)).toEqual(['t.yaml:10: spec.rules[2].name: duplicate rule name "web" (first at line 8)']);
  });

  it("every rule needs a name", () => {
    expect(errorsOf(segmentDoc("rules: [{ ports: [80] }]"))).toEqual(["t.yaml:7: spec.rules[0].name: is required"]);
  });
});

describe("unknown fields", () => {
  it("are refused at every level, each at its own line", () => {
    const doc = segmentDoc(`
      selector:
        labels: { app: web }
      rules:
        - name: r
          form: {}
          limits:
            maxBytes: 1Mi
      enforce: true
    `);
    expect(errorsOf(doc)).toEqual([
      "t.yaml:8: spec.selector.labels: unknown field",
      "t.yaml:11: spec.rules[0].form: unknown field",
      "t.yaml:13: spec.rules[0].limits.maxBytes: unknown field",
      "t.yaml:14: spec.enforce: unknown field",
    ]);
  });

  it("metadata may carry other Kubernetes fields, and a status is ignored", () => {
    const doc = segmentDoc("{}").replace("metadata:\n", "metadata:\n  labels: { team: a }\n  uid: 1234\n") + "status: { observedGeneration: 2 }\n";
    expect(errorsOf(doc)).toEqual([]);
  });
});

describe("selector and mode", () => {
  it("matchLabels maps label keys to string values", () => {
    expect(errorsOf(segmentDoc("selector: { matchLabels: { app.kubernetes.io/name: web, tier: '' } }"))).toEqual([]);
    expect(errorsOf(segmentDoc("selector: { matchLabels: { app: 3 } }"))).toEqual(["t.yaml:7: spec.selector.matchLabels.app: must be a string (got 3)"]);
    expect(errorsOf(segmentDoc("selector: { matchLabels: { 'bad key!': web } }"))[0]).toMatch(/matchLabels\["bad key!"\]: "bad key!" is not a Kubernetes label key/);
  });

  it("mode is enforce or audit", () => {
    expect(errorsOf(segmentDoc("mode: audit"))).toEqual([]);
    expect(errorsOf(segmentDoc("mode: learn"))).toEqual(['t.yaml:7: spec.mode: must be one of enforce, audit (got "learn")']);
  });
});

describe("principals", () => {
  it("accepts exact SPIFFE IDs, prefix*, *suffix and *", () => {
    const doc = ruleDoc(`
      from:
        principals: ["spiffe://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/ops/*", "*/sa/admin", "*"]
    `);
    expect(errorsOf(doc)).toEqual([]);
  });

  it("refuses an empty principal, a '*' in the middle, and whitespace", () => {
    const errors = errorsOf(ruleDoc(`
      from:
        principals: ["", "spiffe://cluster.local/*/sa/b", "*a*", "spiffe://x y"]
    `));
    expect(errors).toEqual([
      "t.yaml:10: spec.rules[0].from.principals[0]: must not be empty",
      `t.yaml:10: spec.rules[0].from.principals[1]: "spiffe://cluster.local/*/sa/b": '*' may only be the whole pattern, its first or its last character`,
      `t.yaml:10: spec.rules[0].from.principals[2]: "*a*": '*' may only be the whole pattern, its first or its last character`,
      't.yaml:10: spec.rules[0].from.principals[3]: "spiffe://x y" must not contain whitespace',
    ]);
  });

  it("refuses an Istio-style principal without spiffe://, which would never match the URI SAN", () => {
    expect(errorsOf(ruleDoc("from: { principals: [cluster.local/ns/a/sa/b] }"))).toEqual([
      't.yaml:9: spec.rules[0].from.principals[0]: "cluster.local/ns/a/sa/b" is an Istio-style principal; the filter matches the full SPIFFE ID: write "spiffe://cluster.local/ns/a/sa/b"',
    ]);
  });

  it("an empty list is refused (omit the field to match any)", () => {
    expect(errorsOf(ruleDoc("from: { principals: [] }"))).toEqual([
      "t.yaml:9: spec.rules[0].from.principals: must list at least 1 item (omit the field to match any)",
    ]);
  });
});

describe("ipBlocks and notIpBlocks", () => {
  it("accept IPv4 and IPv6 CIDRs and bare addresses", () => {
    const doc = ruleDoc(`
      from:
        ipBlocks: ["10.1.0.0/16", "0.0.0.0/0", "192.168.1.7", "::1/128", "2001:db8::/32", "::/0", "fe80::1"]
        notIpBlocks: ["10.1.9.0/24", "2001:db8:0:1::/64"]
    `);
    expect(errorsOf(doc)).toEqual([]);
  });

  it("refuse host bits after the prefix, naming the block probably meant", () => {
    expect(errorsOf(ruleDoc('from: { ipBlocks: ["10.1.2.3/16"], notIpBlocks: ["2001:db8::1/64"] }'))).toEqual([
      't.yaml:9: spec.rules[0].from.ipBlocks[0]: "10.1.2.3/16": host bits are set after the /16 prefix (did you mean 10.1.0.0/16?)',
      't.yaml:9: spec.rules[0].from.notIpBlocks[0]: "2001:db8::1/64": host bits are set after the /64 prefix (did you mean 2001:db8::/64?)',
    ]);
  });

  it("refuse bad addresses and prefix lengths out of range", () => {
    const errors = errorsOf(ruleDoc(`
      from:
        ipBlocks: ["256.0.0.0/8", "10.0.0.0/33", "::/129", "1:2:3:4:5:6:7:8:9/128", "10.0.0/24", "010.0.0.0/8", "10.0.0.0/-1", "fe80::1%eth0/128", "gggg::/16"]
    `));
    expect(errors).toHaveLength(9);
    expect(errors[0]).toBe('t.yaml:10: spec.rules[0].from.ipBlocks[0]: "256.0.0.0/8": "256.0.0.0" is not an IPv4 or IPv6 address');
    expect(errors[1]).toBe('t.yaml:10: spec.rules[0].from.ipBlocks[1]: "10.0.0.0/33": prefix length must be an integer from 0 to 32');
    expect(errors[2]).toBe('t.yaml:10: spec.rules[0].from.ipBlocks[2]: "::/129": prefix length must be an integer from 0 to 128');
  });
});

describe("ports", () => {
  it("accept 1..65535 and inclusive ranges LO-HI with LO <= HI", () => {
    expect(errorsOf(ruleDoc('ports: [1, 65535, "8000-8100", "443-443", "22"]'))).toEqual([]);
  });

  it("refuse 0, 65536, reversed ranges, decimals and words, listed in document order", () => {
    expect(errorsOf(ruleDoc('ports: [0, 65536, "9000-8000", "0-10", 80.5, "http", "1-70000"]'))).toEqual([
      "t.yaml:9: spec.rules[0].ports[0]: must be at least 1 (got 0)",
      "t.yaml:9: spec.rules[0].ports[1]: must be at most 65535 (got 65536)",
      't.yaml:9: spec.rules[0].ports[2]: "9000-8000": range start 9000 is above its end 8000',
      't.yaml:9: spec.rules[0].ports[3]: "0-10": ports must be from 1 to 65535',
      "t.yaml:9: spec.rules[0].ports[4]: must be an integer or a string (got 80.5)",
      't.yaml:9: spec.rules[0].ports[5]: "http" is not a port from 1 to 65535 or a range "LO-HI"',
      't.yaml:9: spec.rules[0].ports[6]: "1-70000": ports must be from 1 to 65535',
    ]);
  });
});

describe("protocols", () => {
  it("are the sniffed protocols, unknown included", () => {
    expect(errorsOf(ruleDoc("protocols: [tls, http1, http2, ssh, postgres, mysql, redis, mongodb, unknown]"))).toEqual([]);
    expect(errorsOf(ruleDoc("protocols: [grpc]"))).toEqual([
      't.yaml:9: spec.rules[0].protocols[0]: must be one of tls, http1, http2, ssh, postgres, mysql, redis, mongodb, mqtt, amqp, kafka, nats, unknown (got "grpc")',
    ]);
  });
});

describe("schedules", () => {
  it("accept IANA zones, UTC and the aliases Intl knows; timezone may be omitted", () => {
    for (const zone of ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Etc/UTC", "US/Eastern"]) {
      expect(errorsOf(ruleDoc(`schedule: { timezone: ${zone}, windows: [{ days: [Mon], start: "08:00", end: "18:00" }] }`))).toEqual([]);
    }
    expect(errorsOf(ruleDoc('schedule: { windows: [{ days: [Mon], start: "08:00", end: "18:00" }] }'))).toEqual([]);
  });

  it("refuse unknown zones, offsets, and wrongly cased names (with the right spelling)", () => {
    const at = (zone: string): string[] => errorsOf(ruleDoc(`schedule: { timezone: "${zone}", windows: [{ days: [Mon], start: "08:00", end: "18:00" }] }`));
    expect(at("Mars/Olympus")).toEqual([
      't.yaml:9: spec.rules[0].schedule.timezone: "Mars/Olympus" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)',
    ]);
    expect(at("+01:00")).toHaveLength(1);
    expect(at("CEST")).toHaveLength(1);
    expect(at("europe/berlin")).toEqual(['t.yaml:9: spec.rules[0].schedule.timezone: "europe/berlin" must be written "Europe/Berlin"']);
  });

  it("windows: days Mon..Sun, start 00:00-23:59, end 00:00-24:00, start != end", () => {
    const doc = ruleDoc(`
      schedule:
        windows:
          - { days: [Mon, Tue, Wed, Thu, Fri, Sat, Sun], start: "00:00", end: "24:00" }
          - { days: [Fri], start: "22:00", end: "06:00" }
          - { days: [Sun], start: "23:59", end: "00:00" }
    `);
    expect(errorsOf(doc)).toEqual([]);
  });

  it("windows: refuse other days, malformed times, 24:00 as a start, and empty windows", () => {
    const doc = ruleDoc(`
      schedule:
        windows:
          - { days: [Monday], start: "8:00", end: "18:60" }
          - { days: [Tue], start: "24:00", end: "24:30" }
          - { days: [Wed], start: "10:00", end: "10:00" }
          - { days: [], start: "10:00", end: "11:00" }
    `);
    expect(errorsOf(doc)).toEqual([
      't.yaml:11: spec.rules[0].schedule.windows[0].days[0]: must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun (got "Monday")',
      't.yaml:11: spec.rules[0].schedule.windows[0].start: "8:00" is not a time "HH:MM" from 00:00 to 23:59',
      't.yaml:11: spec.rules[0].schedule.windows[0].end: "18:60" is not a time "HH:MM" from 00:00 to 24:00',
      't.yaml:12: spec.rules[0].schedule.windows[1].start: "24:00" is not a time "HH:MM" from 00:00 to 23:59',
      't.yaml:12: spec.rules[0].schedule.windows[1].end: "24:30" is not a time "HH:MM" from 00:00 to 24:00',
      't.yaml:13: spec.rules[0].schedule.windows[2].end: must differ from start (for a whole day write start "00:00", end "24:00")',
      "t.yaml:14: spec.rules[0].schedule.windows[3].days: must list at least 1 item (omit the field to match any)",
    ]);
  });

  it("a schedule needs at least one window", () => {
    expect(errorsOf(ruleDoc("schedule: { timezone: UTC, windows: [] }"))).toEqual([
      "t.yaml:9: spec.rules[0].schedule.windows: must list at least 1 item",
    ]);
    expect(errorsOf(ruleDoc("schedule: { timezone: UTC }"))).toEqual(["t.yaml:9: spec.rules[0].schedule.windows: is required"]);
  });
});

describe("quantities", () => {
  it("accept non-negative integers and digits with Ki, Mi, Gi, Ti", () => {
    expect(errorsOf(ruleDoc('limits: { maxBytesIn: 0, maxBytesOut: "1048576", maxMessageBytes: 64Ki }'))).toEqual([]);
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 10Mi, maxBytesOut: 2Gi, maxMessageBytes: 1Ti }"))).toEqual([]);
  });

  it("accept what a Kubernetes quantity accepts: decimal and binary suffixes, exponents, fractions", () => {
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 1.5Mi, maxBytesOut: 10M, maxMessageBytes: 500k }"))).toEqual([]);
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 1e3, maxBytesOut: 1G, maxMessageBytes: \"+.5Ki\" }"))).toEqual([]);
  });

  it("refuse what Kubernetes refuses, negatives, non-integer numbers, and numbers past 2^53", () => {
    const hint = "is not a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi)";
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 1K, maxBytesOut: -1, maxMessageBytes: 10MB }"))).toEqual([
      `t.yaml:9: spec.rules[0].limits.maxBytesIn: "1K" ${hint}`,
      "t.yaml:9: spec.rules[0].limits.maxBytesOut: must be at least 0 (got -1)",
      `t.yaml:9: spec.rules[0].limits.maxMessageBytes: "10MB" ${hint}`,
    ]);
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 2.5, maxBytesOut: 1e3Ki, maxMessageBytes: 9007199254740993 }"))).toEqual([
      "t.yaml:9: spec.rules[0].limits.maxBytesIn: must be an integer or a string (got 2.5)",
      `t.yaml:9: spec.rules[0].limits.maxBytesOut: "1e3Ki" ${hint}`,
      "t.yaml:9: spec.rules[0].limits.maxMessageBytes: 9007199254740992 is too large (at most 2^53 - 1)",
    ]);
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: \"-1Ki\" }"))).toEqual([
      't.yaml:9: spec.rules[0].limits.maxBytesIn: "-1Ki" is negative; a number of bytes is at least 0',
    ]);
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 9000000Gi }"))).toEqual([
      't.yaml:9: spec.rules[0].limits.maxBytesIn: "9000000Gi" is too large (at most 2^53 - 1)',
    ]);
  });

  it("maxDurationSeconds is a positive integer", () => {
    expect(errorsOf(ruleDoc("limits: { maxDurationSeconds: 1 }"))).toEqual([]);
    expect(errorsOf(ruleDoc("limits: { maxDurationSeconds: 0 }"))).toEqual(["t.yaml:9: spec.rules[0].limits.maxDurationSeconds: must be at least 1 (got 0)"]);
    expect(errorsOf(ruleDoc("limits: { maxDurationSeconds: 1h }"))).toEqual(['t.yaml:9: spec.rules[0].limits.maxDurationSeconds: must be an integer (got "1h")']);
  });
});

describe("durations", () => {
  it("are a positive integer with s, m, h or d", () => {
    expect(errorsOf(segmentDoc("quarantine: { strikes: 3, window: 90s, duration: 1d }"))).toEqual([]);
    expect(errorsOf(ruleDoc("perSource: { window: 10m, maxConnections: 5 }"))).toEqual([]);
  });

  it("refuse zero, decimals, other units and bare numbers", () => {
    const hint = "is not a positive duration: an integer followed by s, m, h or d (e.g. 90s, 10m, 1h, 1d)";
    expect(errorsOf(segmentDoc("quarantine: { strikes: 3, window: 0s, duration: 1.5h }"))).toEqual([
      `t.yaml:7: spec.quarantine.window: "0s" ${hint}`,
      `t.yaml:7: spec.quarantine.duration: "1.5h" ${hint}`,
    ]);
    expect(errorsOf(ruleDoc("perSource: { window: 2w, maxBytes: 1Gi }"))).toEqual([`t.yaml:9: spec.rules[0].perSource.window: "2w" ${hint}`]);
    expect(errorsOf(ruleDoc("perSource: { window: 60, maxBytes: 1Gi }"))).toEqual(["t.yaml:9: spec.rules[0].perSource.window: must be a string (got 60)"]);
  });
});

describe("perSource and quarantine", () => {
  it("perSource needs a window and at least one limit", () => {
    expect(errorsOf(ruleDoc("perSource: { window: 1h, maxBytes: 1Gi, maxConnections: 600, maxDistinctPorts: 2 }"))).toEqual([]);
    expect(errorsOf(ruleDoc("perSource: { window: 1h }"))).toEqual([
      "t.yaml:9: spec.rules[0].perSource: sets no limit: give maxBytes, maxConnections or maxDistinctPorts (or remove perSource)",
    ]);
    expect(errorsOf(ruleDoc("perSource: { maxConnections: 0 }"))).toEqual([
      "t.yaml:9: spec.rules[0].perSource.window: is required",
      "t.yaml:9: spec.rules[0].perSource.maxConnections: must be at least 1 (got 0)",
    ]);
  });

  it("counts stay within what the configuration carries (2^53 - 1)", () => {
    expect(errorsOf(segmentDoc("quarantine: { strikes: 1e300, window: 1m, duration: 1m }"))).toEqual([
      "t.yaml:7: spec.quarantine.strikes: 1e+300 is too large (at most 2^53 - 1)",
    ]);
    expect(errorsOf(ruleDoc("perSource: { window: 1m, maxConnections: 1e20 }"))).toEqual([
      "t.yaml:9: spec.rules[0].perSource.maxConnections: 100000000000000000000 is too large (at most 2^53 - 1)",
    ]);
  });

  it("quarantine needs strikes >= 1, a window and a duration", () => {
    expect(errorsOf(segmentDoc("quarantine: { strikes: 0 }"))).toEqual([
      "t.yaml:7: spec.quarantine.window: is required",
      "t.yaml:7: spec.quarantine.duration: is required",
      "t.yaml:7: spec.quarantine.strikes: must be at least 1 (got 0)",
    ]);
  });
});

describe("framing", () => {
  it("accepts chunk, lengthPrefixed (width 1/2/4/8, offset >= 0, endian, signed adjustment) and delimited (1-4 bytes)", () => {
    for (const framing of [
      "{ type: chunk }",
      "{ type: lengthPrefixed, width: 1 }",
      "{ type: lengthPrefixed, offset: 1, width: 4, endian: big, adjustment: -4 }",
      "{ type: lengthPrefixed, offset: 0, width: 8, endian: little, adjustment: 12 }",
      '{ type: delimited, delimiter: "\\n" }',
      '{ type: delimited, delimiter: "\\r\\n\\r\\n" }',
    ]) {
      expect(errorsOf(ruleDoc(`limits: { maxMessageBytes: 64Ki, framing: ${framing} }`)), framing).toEqual([]);
    }
  });

  it("maxMessageBytes without framing is valid (chunk), and so is framing without maxMessageBytes (an annotation may set it)", () => {
    expect(errorsOf(ruleDoc("limits: { maxMessageBytes: 1Ki }"))).toEqual([]);
    expect(errorsOf(ruleDoc("limits: { framing: { type: chunk } }"))).toEqual([]);
  });

  it("refuses widths other than 1, 2, 4, 8, negative offsets, other endians and a missing width", () => {
    expect(errorsOf(ruleDoc("limits: { framing: { type: lengthPrefixed, width: 3, offset: -1, endian: middle } }"))).toEqual([
      "t.yaml:9: spec.rules[0].limits.framing.width: must be one of 1, 2, 4, 8 (got 3)",
      "t.yaml:9: spec.rules[0].limits.framing.offset: must be at least 0 (got -1)",
      't.yaml:9: spec.rules[0].limits.framing.endian: must be one of big, little (got "middle")',
    ]);
    expect(errorsOf(ruleDoc("limits: { framing: { type: lengthPrefixed, adjustment: 1.5 } }"))).toEqual([
      "t.yaml:9: spec.rules[0].limits.framing.width: is required for framing type lengthPrefixed (1, 2, 4 or 8)",
      "t.yaml:9: spec.rules[0].limits.framing.adjustment: must be an integer (got 1.5)",
    ]);
  });

  it("refuses delimiters of 0 or more than 4 bytes (counted as UTF-8), and parameters of another type", () => {
    expect(errorsOf(ruleDoc('limits: { framing: { type: delimited, delimiter: "" } }'))[0]).toMatch(/framing\.delimiter: must be 1 to 4 bytes \(got 0;/);
    expect(errorsOf(ruleDoc('limits: { framing: { type: delimited, delimiter: "\\r\\n\\r\\n\\r" } }'))[0]).toMatch(/got 5;/);
    expect(errorsOf(ruleDoc('limits: { framing: { type: delimited, delimiter: "€€" } }'))[0]).toMatch(/got 6;/);
    expect(errorsOf(ruleDoc("limits: { framing: { type: delimited } }"))).toEqual([
      't.yaml:9: spec.rules[0].limits.framing.delimiter: is required for framing type delimited (1 to 4 bytes, e.g. "\\n")',
    ]);
    expect(errorsOf(ruleDoc("limits: { framing: { type: chunk, width: 4, delimiter: x } }"))).toEqual([
      "t.yaml:9: spec.rules[0].limits.framing.width: does not apply to framing type chunk",
      "t.yaml:9: spec.rules[0].limits.framing.delimiter: does not apply to framing type chunk",
    ]);
    expect(errorsOf(ruleDoc("limits: { framing: { type: netty } }"))).toEqual([
      't.yaml:9: spec.rules[0].limits.framing.type: must be one of chunk, lengthPrefixed, delimited, postgres, mqtt, kafka (got "netty")',
    ]);
  });
});

describe("types", () => {
  it("each field of the wrong type is one error, with the value found", () => {
    expect(errorsOf(segmentDoc("rules: { name: r }"))).toEqual(["t.yaml:7: spec.rules: must be a list (got {\"name\":\"r\"})"]);
    expect(errorsOf(ruleDoc("from: [a]"))).toEqual(['t.yaml:9: spec.rules[0].from: must be a mapping (got ["a"])']);
    expect(errorsOf(ruleDoc("from:"))).toEqual(["t.yaml:9: spec.rules[0].from: must be a mapping (got null)"]);
  });
});

describe("values YAML cannot show as JSON, and hostile nesting", () => {
  it("1e400 and .inf say infinity, .nan says not a number (never 'got null')", () => {
    expect(errorsOf(ruleDoc("limits: { maxBytesIn: 1e400 }"))).toEqual([
      "t.yaml:9: spec.rules[0].limits.maxBytesIn: must be an integer or a string (got infinity: a number too large to represent, such as 1e400 or .inf)",
    ]);
    expect(errorsOf(ruleDoc("limits: { maxDurationSeconds: .nan }"))).toEqual([
      "t.yaml:9: spec.rules[0].limits.maxDurationSeconds: must be an integer (got .nan, not a number)",
    ]);
    expect(errorsOf(ruleDoc("ports: [-.inf]")).join("\n")).toMatch(/got -infinity/);
  });

  it("5,000 levels of nesting say 'nesting too deep', as do 100 levels", () => {
    const flow = (n: number): string => `x: ${"[".repeat(n)}${"]".repeat(n)}`;
    for (const n of [5000, 100]) {
      const errors = errorsOf(ruleDoc(flow(n)));
      expect(errors).toEqual([expect.stringMatching(/^t\.yaml:\d+: nesting too deep \(a policy document may nest at most 64 levels\)$/)]);
    }
  });
});

describe("compliance (evidence metadata)", () => {
  it("accepts the regimes pci-dss and hipaa", () => {
    expect(errorsOf(segmentDoc("compliance: [pci-dss, hipaa]\n"))).toEqual([]);
  });

  it("refuses an unknown regime and a regime named twice, at their lines", () => {
    const errs = errorsOf(segmentDoc("compliance:\n  - pci-dss\n  - sox\n  - pci-dss\n"));
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^t\.yaml:9: spec\.compliance\[1\]: .*pci-dss.*hipaa/);
    expect(errs[1]).toBe('t.yaml:10: spec.compliance[2]: duplicate regime "pci-dss"');
  });

  it("the schema's regimes are the ones the report knows (COMPLIANCE_REGIMES)", async () => {
    const { readFileSync } = await import("node:fs");
    const { COMPLIANCE_REGIMES } = await import("../../api/picosegment.js");
    const schema = JSON.parse(readFileSync(new URL("../../api/picosegment.schema.json", import.meta.url), "utf8")) as {
      properties: { spec: { properties: { compliance: { items: { enum: string[] } } } } };
    };
    expect(schema.properties.spec.properties.compliance.items.enum).toEqual([...COMPLIANCE_REGIMES]);
  });
});
