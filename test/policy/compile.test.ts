// Compiling segments for one workload into the filter's configuration (filter/CONFIG.md):
// selection, merge order, annotations that only tighten, each line of the grammar, determinism.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeConfig } from "../../xds-server/src/policy/config-text.js";
import { compileForWorkload } from "../../xds-server/src/policy/compile.js";
import type { LoadedSegment } from "../../xds-server/src/policy/types.js";
import type { Workload } from "../../api/workload.js";
import { readConfig } from "./config-reader.js";
import { dedent, loadOne, segmentDoc } from "./helpers.js";

const NOW = new Date("2026-06-15T12:00:00Z");

function workload(labels: Record<string, string> = {}, annotations: Record<string, string> = {}, namespace = "team-a"): Workload {
  return { namespace, labels, annotations };
}

function seg(name: string, spec: string, namespace = "team-a"): LoadedSegment {
  return loadOne(segmentDoc(spec, name, namespace), `${name}.yaml`);
}

function compile(segments: LoadedSegment[], w: Workload = workload()): ReturnType<typeof compileForWorkload> {
  return compileForWorkload(segments, w, { now: NOW });
}

/** The lines between the header and `end`. */
function body(config: string): string[] {
  const lines = config.split("\n");
  expect(lines[0]).toBe("picoseg 1");
  expect(lines.slice(-2)).toEqual(["end", ""]);
  return lines.slice(1, -2);
}

describe("the contract's example", () => {
  it("docs/design.md's PicoSegment (windows on Mon and Tue; framing postgres, as issue 13 corrects its lengthPrefixed) compiles to exactly CONFIG.md's example string", () => {
    const example = /## Example\n\n```\n([\s\S]*?)```/.exec(readFileSync("filter/CONFIG.md", "utf8"))?.[1];
    expect(example).toBeDefined();
    const segment = loadOne(dedent(`
      apiVersion: picoseg.io/v1alpha1
      kind: PicoSegment
      metadata:
        name: payments-db
        namespace: payments
      spec:
        selector:
          matchLabels: { app: payments-db }
        mode: enforce
        rules:
          - name: api-to-db
            from:
              principals: ["spiffe://cluster.local/ns/payments/sa/api", "spiffe://cluster.local/ns/ops/*"]
              ipBlocks: ["10.1.0.0/16", "127.0.0.1/32", "::1/128"]
              notIpBlocks: ["10.1.9.0/24"]
            ports: [5432, "8000-8100"]
            protocols: [postgres, tls]
            schedule:
              timezone: Europe/Berlin
              windows:
                - { days: [Mon, Tue], start: "08:00", end: "18:00" }
            limits:
              maxBytesIn: 10Mi
              maxBytesOut: 100Mi
              maxMessageBytes: 64Ki
              framing: { type: postgres }
              maxDurationSeconds: 3600
            perSource:
              window: 1h
              maxBytes: 1Gi
              maxConnections: 600
              maxDistinctPorts: 2
        quarantine:
          strikes: 3
          window: 10m
          duration: 15m
    `));
    const compiled = compileForWorkload([segment], workload({ app: "payments-db" }, {}, "payments"), { now: NOW, generation: 7 });
    // The example shows the Berlin table of the 2026 compilation year up to October 2026; ours
    // continues the same table for two more years (see TIMEZONE_HORIZON_YEARS).
    const tz = "tz 0 60 1774746000 120 1792890000 60";
    expect(compiled.config.startsWith(`picoseg 1\ngeneration 7\n${tz} `)).toBe(true);
    const withoutLaterYears = compiled.config.replace(/^(tz 0 60 1774746000 120 1792890000 60)( \d+ -?\d+)*$/m, "$1");
    expect(withoutLaterYears).toBe(example);
    expect(compiled.segments).toEqual(["payments/payments-db"]);
    expect(compiled.warnings).toEqual([]);
  });
});

describe("selection", () => {
  const db = seg("db", "selector: { matchLabels: { app: db, tier: data } }\nrules: [{ name: r }]");
  const all = seg("all", "rules: [{ name: r }]");
  const empty = seg("empty-selector", "selector: { matchLabels: {} }\nrules: [{ name: r }]");
  const other = seg("db", "rules: [{ name: r }]", "team-b");

  it("a workload with no segment compiles to the header and end only", () => {
    expect(compile([db], workload({ app: "web" })).config).toBe("picoseg 1\nend\n");
    expect(compile([], workload()).config).toBe("picoseg 1\nend\n");
  });

  it("selects when every matchLabels pair is on the workload (extra labels do not matter)", () => {
    expect(compile([db], workload({ app: "db", tier: "data", version: "v2" })).segments).toEqual(["team-a/db"]);
    expect(compile([db], workload({ app: "db" })).segments).toEqual([]);
    expect(compile([db], workload({ app: "db", tier: "cache" })).segments).toEqual([]);
  });

  it("no selector, or empty matchLabels, selects every workload of the namespace, and only that namespace", () => {
    expect(compile([all, empty, other], workload({})).segments).toEqual(["team-a/all", "team-a/empty-selector"]);
    expect(compile([all, empty, other], workload({}, {}, "team-b")).segments).toEqual(["team-b/db"]);
    expect(compile([all], workload({}, {}, "team-c")).config).toBe("picoseg 1\nend\n");
  });

  it("a label that is inherited from Object.prototype is not a workload label", () => {
    const tricky = seg("tricky", "selector: { matchLabels: { constructor: x } }");
    expect(compile([tricky], workload({})).segments).toEqual([]);
  });
});

describe("merging several segments", () => {
  const zeta = seg("zeta", "mode: audit\nrules: [{ name: z1 }, { name: z2 }]");
  const alpha = seg("alpha", "rules: [{ name: a1 }]");
  const mid = seg("mid", "{}");

  it("merges in namespace/name order whatever the file order, rules concatenated, each segment with its own mode", () => {
    const { config, segments } = compile([zeta, mid, alpha]);
    expect(segments).toEqual(["team-a/alpha", "team-a/mid", "team-a/zeta"]);
    expect(body(config)).toEqual([
      "segment team-a/alpha enforce",
      "rule a1",
      "segment team-a/mid enforce",
      "segment team-a/zeta audit",
      "rule z1",
      "rule z2",
    ]);
  });

  it("name order is by code unit, not locale: uppercase-free names, '-' before digits before letters", () => {
    const names = ["db", "db-2", "db2", "a"].map((n) => seg(n, "{}"));
    expect(compile(names).segments).toEqual(["team-a/a", "team-a/db", "team-a/db-2", "team-a/db2"]);
  });

  it("time-zone tables are shared by zone and numbered in order of first use", () => {
    const spec = (zone: string): string => `rules: [{ name: r, schedule: { timezone: ${zone}, windows: [{ days: [Mon], start: "08:00", end: "09:00" }] } }]`;
    const a = seg("a", spec("America/New_York"));
    const b = seg("b", spec("Asia/Kolkata"));
    const c = seg("c", spec("America/New_York"));
    const lines = body(compile([c, b, a]).config);
    expect(lines.filter((l) => l.startsWith("tz ")).map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual(["tz 0 -300", "tz 1 330"]);
    expect(lines.filter((l) => l.startsWith("schedule "))).toEqual(["schedule 0", "schedule 1", "schedule 0"]);
  });
});

describe("rule lines", () => {
  const compileRule = (rule: string): string[] => body(compile([seg("s", `rules:\n  - name: r\n${dedent(rule).replace(/^/gm, "    ")}`)]).config).slice(2);

  it("principals as written; address blocks in canonical form (lowercase, compressed, bare address as a host block)", () => {
    expect(
      compileRule(`
        from:
          principals: ["*"]
          ipBlocks: ["2001:DB8:0:0:0:0:0:0/32", "192.168.1.7", "fe80::0:1", "::ffff:10.0.0.1/128", "1:0:0:2:0:0:0:3/128"]
          notIpBlocks: ["0.0.0.0/0"]
      `),
    ).toEqual([
      "principal *",
      "ip 2001:db8::/32",
      "ip 192.168.1.7/32",
      "ip fe80::1/128",
      "ip ::ffff:a00:1/128",
      "ip 1:0:0:2::3/128",
      "notip 0.0.0.0/0",
    ]);
  });

  it("ports as inclusive ranges, protocols as written", () => {
    expect(compileRule('ports: [5432, "8000-8100", "22"]\nprotocols: [postgres, unknown]')).toEqual([
      "port 5432 5432",
      "port 8000 8100",
      "port 22 22",
      "protocol postgres",
      "protocol unknown",
    ]);
  });

  it("quantities in bytes, durations in seconds, absent perSource limits as '-'", () => {
    expect(compileRule("limits: { maxBytesIn: 0, maxBytesOut: 3Gi, maxDurationSeconds: 60 }\nperSource: { window: 1d, maxConnections: 5 }")).toEqual([
      "maxBytesIn 0",
      "maxBytesOut 3221225472",
      "maxDurationSeconds 60",
      "perSource 86400 - 5 -",
    ]);
    expect(compileRule('limits: { maxBytesIn: "1Ti" }\nperSource: { window: 90s, maxBytes: 2Ki, maxDistinctPorts: 1 }')).toEqual([
      "maxBytesIn 1099511627776",
      "perSource 90 2048 - 1",
    ]);
  });

  it("maxMessageBytes without framing is chunk; delimiters as hex of their bytes; lengthPrefixed defaults offset 0, big, 0", () => {
    expect(compileRule("limits: { maxMessageBytes: 100 }")).toEqual(["maxMessageBytes 100", "framing chunk"]);
    expect(compileRule('limits: { maxMessageBytes: 1Ki, framing: { type: delimited, delimiter: "\\r\\n" } }')).toEqual(["maxMessageBytes 1024", "framing delimited 0d0a"]);
    expect(compileRule('limits: { maxMessageBytes: 1Ki, framing: { type: delimited, delimiter: "\\0" } }')).toEqual(["maxMessageBytes 1024", "framing delimited 00"]);
    expect(compileRule("limits: { maxMessageBytes: 1Ki, framing: { type: delimited, delimiter: '|' } }")).toEqual(["maxMessageBytes 1024", "framing delimited 7c"]);
    expect(compileRule("limits: { maxMessageBytes: 16, framing: { type: lengthPrefixed, width: 2 } }")).toEqual(["maxMessageBytes 16", "framing lengthPrefixed 0 2 big 0"]);
  });

  it("framing without a message limit is not emitted (the filter need not frame)", () => {
    expect(compileRule("limits: { framing: { type: lengthPrefixed, width: 4 } }")).toEqual([]);
  });

  it("quarantine follows its segment line", () => {
    expect(body(compile([seg("q", "quarantine: { strikes: 5, window: 1m, duration: 1h }")]).config)).toEqual(["segment team-a/q enforce", "quarantine 5 60 3600"]);
  });

  it("refuses to compile a segment that was not validated", () => {
    const bad: LoadedSegment = { segment: { ...seg("x", "{}").segment, spec: { rules: [{ name: "r", ports: ["9-1"] }] } }, source: { file: "x", line: 1 } };
    expect(() => compile([bad])).toThrow(/unvalidated segment/);
  });
});

describe("annotations tighten, never loosen", () => {
  const audit = seg("audit", "mode: audit\nrules: [{ name: r }]");
  const enforce = seg("enforce", "rules: [{ name: r }]");
  const limited = seg("limited", dedent(`
    rules:
      - name: big
        limits: { maxBytesIn: 10Mi, maxBytesOut: 100, maxMessageBytes: 64Ki, maxDurationSeconds: 3600 }
      - name: none
      - name: framed
        limits: { framing: { type: delimited, delimiter: "\\n" } }
  `));
  const rulesOf = (config: string): Record<string, string[]> =>
    Object.fromEntries(readConfig(config).rules.map((r) => [r.name, r.lines]));

  it("picoseg.io/mode: enforce turns audit segments into enforce for this workload", () => {
    const { config, warnings } = compile([audit, enforce], workload({}, { "picoseg.io/mode": "enforce" }));
    expect(body(config).filter((l) => l.startsWith("segment"))).toEqual(["segment team-a/audit enforce", "segment team-a/enforce enforce"]);
    expect(warnings).toEqual([]);
  });

  it("picoseg.io/mode: audit is ignored on enforcing segments and reported; on audit segments it changes nothing", () => {
    const { config, warnings } = compile([audit, enforce], workload({}, { "picoseg.io/mode": "audit" }));
    expect(body(config).filter((l) => l.startsWith("segment"))).toEqual(["segment team-a/audit audit", "segment team-a/enforce enforce"]);
    expect(warnings).toEqual(["annotation picoseg.io/mode: audit ignored for enforcing segment team-a/enforce (annotations may only tighten)"]);
    expect(compile([audit], workload({}, { "picoseg.io/mode": "audit" })).warnings).toEqual([]);
  });

  it("the smaller of annotation and rule wins on every rule; a rule without the limit takes the annotation's", () => {
    const { config, warnings } = compile(
      [limited],
      workload({}, {
        "picoseg.io/max-bytes-in": "1Mi",
        "picoseg.io/max-bytes-out": "1Gi",
        "picoseg.io/max-message-bytes": "128",
        "picoseg.io/max-duration-seconds": "7200",
      }),
    );
    expect(warnings).toEqual([]);
    expect(rulesOf(config)).toEqual({
      big: ["maxBytesIn 1048576", "maxBytesOut 100", "maxMessageBytes 128", "framing chunk", "maxDurationSeconds 3600"],
      none: ["maxBytesIn 1048576", "maxBytesOut 1073741824", "maxMessageBytes 128", "framing chunk", "maxDurationSeconds 7200"],
      framed: ["maxBytesIn 1048576", "maxBytesOut 1073741824", "maxMessageBytes 128", "framing delimited 0a", "maxDurationSeconds 7200"],
    });
  });

  it("an annotation that does not parse is a warning and ignored; others still apply", () => {
    const { config, warnings } = compile(
      [limited],
      workload({}, {
        "picoseg.io/max-bytes-in": "10MB",
        "picoseg.io/max-bytes-out": "-5",
        "picoseg.io/max-duration-seconds": "1.5",
        "picoseg.io/max-message-bytes": " 1Ki ",
        "picoseg.io/mode": "strict",
        "picoseg.io/max-bytes": "1",
        "sidecar.istio.io/inject": "true",
      }),
    );
    expect(warnings).toEqual([
      "annotation picoseg.io/max-bytes: unknown picoseg annotation; ignored",
      'annotation picoseg.io/max-bytes-in: "10MB" is not a number of bytes as Kubernetes writes quantities (e.g. 65536, 64Ki, 10Mi, 10M, 1G, 500k, 1e3, 1.5Gi); ignored',
      'annotation picoseg.io/max-bytes-out: "-5" is negative; a number of bytes is at least 0; ignored',
      'annotation picoseg.io/max-duration-seconds: "1.5" is not a positive integer; ignored',
      'annotation picoseg.io/mode: "strict" is not enforce or audit; ignored',
    ]);
    expect(rulesOf(config)["big"]).toEqual(["maxBytesIn 10485760", "maxBytesOut 100", "maxMessageBytes 1024", "framing chunk", "maxDurationSeconds 3600"]);
  });

  it("annotations on a workload no segment selects change nothing: still header and end", () => {
    expect(compile([enforce], workload({}, { "picoseg.io/max-bytes-in": "1" }, "team-z")).config).toBe("picoseg 1\nend\n");
  });
});

describe("determinism", () => {
  const a = seg("a", 'rules: [{ name: r, from: { ipBlocks: ["10.0.0.0/8"] }, schedule: { timezone: Europe/Berlin, windows: [{ days: [Fri, Mon], start: "22:00", end: "02:00" }] } }]');
  const b = seg("b", "mode: audit\nrules: [{ name: r, limits: { maxBytesIn: 1Ki } }]");
  const annotations = { "picoseg.io/max-bytes-out": "5", "picoseg.io/mode": "enforce" };

  it("identical inputs give identical strings, whatever the order of segments, labels and annotations", () => {
    const first = compileForWorkload([a, b], { namespace: "team-a", labels: { x: "1", y: "2" }, annotations }, { now: NOW });
    const second = compileForWorkload([b, a], { namespace: "team-a", labels: { y: "2", x: "1" }, annotations: { "picoseg.io/mode": "enforce", "picoseg.io/max-bytes-out": "5" } }, { now: new Date("2026-02-01T00:00:00Z") });
    expect(second).toEqual(first);
  });

  it("the output holds no timestamp: compiling later in the same year changes nothing", () => {
    const early = compileForWorkload([a], workload(), { now: new Date("2026-01-01T00:00:00Z") }).config;
    const late = compileForWorkload([a], workload(), { now: new Date("2026-12-31T23:59:59.999Z") }).config;
    expect(late).toBe(early);
  });

  it("a generation line is written only when asked for", () => {
    expect(compileForWorkload([], workload(), { now: NOW, generation: 42 }).config).toBe("picoseg 1\ngeneration 42\nend\n");
  });
});

describe("protocol detection timeout", () => {
  it("compiles protocolDetectionTimeout to the filter's sniffTimeoutMs line, after the protocols", () => {
    const s = seg("p", "rules: [{ name: r, protocols: [http1], protocolDetectionTimeout: 5s }]");
    expect(body(compile([s]).config)).toEqual(["segment team-a/p enforce", "rule r", "protocol http1", "sniffTimeoutMs 5000"]);
  });

  it("refuses a timeout that is not a duration, saying which field", async () => {
    const { errorsOf, ruleDoc } = await import("./helpers.js");
    expect(errorsOf(ruleDoc("protocols: [http1]\nprotocolDetectionTimeout: soon")).join("\n")).toMatch(/protocolDetectionTimeout.*duration/);
  });
});

describe("learning mode", () => {
  const learning = seg("learn", `
    selector: { matchLabels: { app: web } }
    mode: audit
    learn: true
    rules:
      - name: all
  `);
  const plain = seg("plain", `
    selector: { matchLabels: { app: web } }
    rules:
      - name: all
  `);

  it("a segment with learn: true adds the observe line with the server's report channel", () => {
    const out = compileForWorkload([learning], workload({ app: "web" }), { now: NOW, report: { cluster: "picoseg-xds", intervalMs: 2000, capacity: 512 } });
    expect(body(out.config)).toContain("observe picoseg-xds 2000 512");
  });

  it("the annotation picoseg.io/learn: \"true\" turns it on for one workload; without either there is no observe line", () => {
    expect(body(compile([plain], workload({ app: "web" }, { "picoseg.io/learn": "true" })).config)).toContain("observe xds 5000 1024");
    expect(body(compile([plain], workload({ app: "web" })).config).some((l) => l.startsWith("observe"))).toBe(false);
  });

  it("an annotation value other than true or false is reported and ignored", () => {
    const out = compile([plain], workload({ app: "web" }, { "picoseg.io/learn": "yes" }));
    expect(out.warnings).toEqual(['annotation picoseg.io/learn: "yes" is not "true" or "false"; ignored']);
    expect(body(out.config).some((l) => l.startsWith("observe"))).toBe(false);
  });
});

describe("the configuration read back (picoseg proxy-config)", () => {
  it("groups lines under segment and rule, writes windows as local days and times, keeps numbers as the filter reads them", () => {
    const decoded = decodeConfig(
      ["picoseg 1", "generation 4", "tz 0 60 1774746000 120", "segment pay/db enforce", "quarantine 3 600 900", "rule api", "principal a", "principal b",
        "port 5432 5432", "schedule 0", "window 420 1200", "window 10020 10140", "maxBytesIn 1048576", "end", ""].join("\n"),
    );
    expect(decoded).toEqual({
      header: { picoseg: "1", generation: "4", tz: "zone 0: 1 offset changes" },
      segments: [{
        segment: "pay/db", mode: "enforce", settings: { quarantine: "3 600 900" },
        rules: [{ rule: "api", principal: ["a", "b"], port: "5432 5432", schedule: "0", window: ["Mon 07:00–Mon 20:00", "Sun 23:00–Mon 01:00"], maxBytesIn: "1048576" }],
      }],
    });
  });
});
