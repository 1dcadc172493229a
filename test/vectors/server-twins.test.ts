// The server's side of twins.json: its reason strings (observe/report.ts), CIDR parsing
// (policy/cidr.ts), schedules (policy/schedule.ts, policy/timezone.ts) and rule selection, as the
// server compiles them for the filter (policy/compile.ts) and as `picoseg what-if` decides them
// (learn/whatif.ts). filter-twins.test.ts runs the same cases through the filter.
import { describe, expect, it } from "vitest";
import { trafficOf, hourOfWeek } from "../../xds-server/src/learn/traffic.js";
import { whatIf, type WhatIfResult } from "../../xds-server/src/learn/whatif.js";
import { REASONS } from "../../api/decision.js";
import type { StoredReport } from "../../xds-server/src/telemetry/store.js";
import { parseCidr } from "../../xds-server/src/policy/cidr.js";
import { compileForWorkload } from "../../xds-server/src/policy/compile.js";
import { validatePolicyText } from "../../xds-server/src/policy/load.js";
import { windowIntervals } from "../../xds-server/src/policy/schedule.js";
import { offsetTable } from "../../xds-server/src/policy/timezone.js";
import type { LoadedSegment } from "../../xds-server/src/policy/types.js";
import type { Window } from "../../api/picosegment.js";
import { conn, report } from "../telemetry/fixtures.js";
import {
  WORKLOAD, cidrName, compiledBlock, connectionName, instantName, invalidBlockName, twins, windowsText, type Connection, type PolicyRule,
} from "./twins.js";

const WORKLOAD_KEY = `${WORKLOAD.namespace}/${WORKLOAD.name}`;
/** The compilation instant: the offset tables of twins.json start on 1 January of its year. */
const COMPILED_AT = new Date("2026-06-15T12:00:00Z");

/** Segments (namespace `payments`, selecting app=db) as validated policy documents; throws on any error. */
function load(segments: Array<{ name: string; mode?: string; rules: unknown[] }>): LoadedSegment[] {
  const text = segments
    .map((seg) => JSON.stringify({
      apiVersion: "picoseg.io/v1alpha1",
      kind: "PicoSegment",
      metadata: { name: seg.name, namespace: WORKLOAD.namespace },
      spec: { selector: { matchLabels: WORKLOAD.labels }, mode: seg.mode ?? "enforce", rules: seg.rules },
    }))
    .join("\n---\n");
  const { segments: loaded, errors } = validatePolicyText(text, "twins.yaml");
  expect(errors).toEqual([]);
  return loaded;
}

/** The lines the filter receives for the workload, without the header and `end`. */
function compiledLines(segments: LoadedSegment[]): string[] {
  const { config } = compileForWorkload(segments, { namespace: WORKLOAD.namespace, labels: WORKLOAD.labels, annotations: {} }, { now: COMPILED_AT });
  const lines = config.split("\n").filter((l) => l !== "");
  expect(lines[0]).toBe("picoseg 1");
  expect(lines[lines.length - 1]).toBe("end");
  return lines.slice(1, -1);
}

/** What-if over one observed connection (its protocol never sniffed) that started at `startedAt` (a whole UTC hour). */
function judge(segments: LoadedSegment[], c: { principal: string; ip: string; port: number }, startedAt = COMPILED_AT.getTime()): WhatIfResult {
  const observed = conn({ ...c, proto: null, n: 1, hour: hourOfWeek(startedAt) });
  const traffic = trafficOf([{ at: startedAt, node: "db-1", workload: WORKLOAD_KEY, labels: WORKLOAD.labels, report: report({ from: startedAt, to: startedAt + 5000, conns: [observed] }) } satisfies StoredReport]);
  expect(traffic.conns.map((x) => x.startedAt)).toEqual([startedAt]);
  return whatIf(traffic, segments, WORKLOAD_KEY);
}

describe("reason strings", () => {
  it("the server has docs/design.md's reason strings, in the filter's order", () => {
    expect([...REASONS]).toEqual(twins.reasons.list);
  });
});

describe("CIDR: a source address against a policy's block", () => {
  for (const c of twins.cidr.matches) {
    it(`${cidrName(c)}: the block compiles to ${compiledBlock(c)}`, () => {
      const parsed = parseCidr(c.block);
      expect(parsed.ok && parsed.value.canonical).toBe(compiledBlock(c));
      const compiled = compiledLines(load([{ name: "cidr", rules: [{ name: "r", from: { ipBlocks: [c.block] } }] }]));
      expect(compiled).toEqual(["segment payments/cidr enforce", "rule r", `ip ${compiledBlock(c)}`]);
    });
    it(`${cidrName(c)}: what-if, a rule with ipBlocks [${c.block}] ${c.inside ? "admits" : "does not admit"} it`, () => {
      const r = judge(load([{ name: "cidr", rules: [{ name: "r", from: { ipBlocks: [c.block] } }] }]), { principal: "", ip: c.address, port: 5432 });
      expect(r.byReason).toEqual(c.inside ? {} : { source: { lo: 1, hi: 1 } });
    });
    const notAdmitted = c.inside || c.malformed === true;
    it(`${cidrName(c)}: what-if, a rule with notIpBlocks [${c.block}] ${notAdmitted ? "does not admit" : "admits"} it`, () => {
      const r = judge(load([{ name: "cidr", rules: [{ name: "r", from: { notIpBlocks: [c.block] } }] }]), { principal: "", ip: c.address, port: 5432 });
      expect(r.byReason).toEqual(notAdmitted ? { source: { lo: 1, hi: 1 } } : {});
    });
  }

  for (const b of twins.cidr.invalidBlocks) {
    it(invalidBlockName(b), () => {
      expect(parseCidr(b.block).ok).toBe(false);
      const doc = JSON.stringify({
        apiVersion: "picoseg.io/v1alpha1", kind: "PicoSegment", metadata: { name: "cidr", namespace: WORKLOAD.namespace },
        spec: { selector: { matchLabels: WORKLOAD.labels }, rules: [{ name: "r", from: { ipBlocks: [b.block] } }] },
      });
      const { segments, errors } = validatePolicyText(doc, "twins.yaml");
      expect(segments).toEqual([]);
      expect(errors.map((e) => e.field)).toContain("spec.rules[0].from.ipBlocks[0]");
    });
  }
});

/** The wall clock of `zone` at an instant, as "Mon 08:00", from Node's time-zone data (not picoseg's). */
function wallClock(zone: string, at: string): string {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(at));
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? "?";
  return `${part("weekday")} ${part("hour")}:${part("minute")}`;
}

describe("schedules: an instant against a rule's windows", () => {
  for (const sc of twins.schedules.cases) {
    const rules = [{ name: "r", schedule: { timezone: sc.zone, windows: sc.windows } }];
    it(`${windowsText(sc.windows)} in ${sc.zone} compiles to the offset table and the window lines the filter judges`, () => {
      expect(sc.windows.flatMap((w) => windowIntervals(w as Window)).map((w) => [w.start, w.end])).toEqual(sc.compiled);
      const table = offsetTable(sc.zone, 2026, 2029);
      expect([table.initial, ...table.transitions.flatMap((t) => [t.at, t.offset])].join(" ")).toBe(twins.zones[sc.zone]);
      expect(compiledLines(load([{ name: "schedule", rules }]))).toEqual([
        `tz 0 ${twins.zones[sc.zone]}`, "segment payments/schedule enforce", "rule r", "schedule 0",
        ...sc.compiled.map(([a, b]) => `window ${a} ${b}`),
      ]);
    });
    for (const i of sc.instants) {
      it(`${instantName(sc, i)}: what-if`, () => {
        expect(wallClock(sc.zone, i.at), "the case's wall clock").toBe(i.local);
        const r = judge(load([{ name: "schedule", rules }]), { principal: "", ip: "10.1.2.3", port: 5432 }, Date.parse(i.at));
        expect(r.byReason).toEqual(i.inside ? {} : { schedule: { lo: 1, hi: 1 } });
      });
    }
  }
});

/**
 * What-if names the rule it judged a connection by only in a note: with `protocols` listed on the
 * rule and the connection's protocol never sniffed, it says it could not judge the protocol under
 * that rule. So every rule here lists one (selection never reads `protocols`: docs/design.md).
 */
const PROTOCOL_NOTE = /^protocol: rule (\S+) lists protocols, but the observing rule sniffed none: not judged$/;

function governing(segments: Array<{ name: string; rules: PolicyRule[] }>, c: Connection): string {
  const withProtocols = segments.map((seg) => ({ ...seg, rules: seg.rules.map((r) => ({ ...r, protocols: ["postgres"] })) }));
  const r = judge(load(withProtocols), { principal: c.principal, ip: c.source, port: c.port });
  const reasons = Object.keys(r.byReason);
  if (reasons.length > 0) {
    expect(r.byReason).toEqual({ [reasons[0] as string]: { lo: 1, hi: 1 } });
    expect(r.notes).toEqual([]);
    return `reason ${reasons[0]}`;
  }
  expect(r.notes).toHaveLength(1);
  const m = PROTOCOL_NOTE.exec(r.notes[0] ?? "");
  expect(m, r.notes[0]).not.toBeNull();
  return `rule ${m?.[1]}`;
}

describe("rule selection", () => {
  for (const sc of twins.selection.cases) {
    it(`${sc.segments.map((s) => `${WORKLOAD.namespace}/${s.name}`).join(" and ")} compile to the lines the filter selects over`, () => {
      expect(compiledLines(load(sc.segments))).toEqual(sc.compiled);
    });
    for (const c of sc.connections) {
      it(`${connectionName(c)}: what-if`, () => {
        expect(governing(sc.segments, c)).toBe(c.rule !== undefined ? `rule ${c.rule}` : `reason ${c.reason}`);
      });
    }
  }
});
