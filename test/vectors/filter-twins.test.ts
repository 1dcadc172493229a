// The filter's side of twins.json: its reason strings, CIDR matching, schedule windows and rule
// selection (filter/assembly/reasons.ts, cidr.ts, schedule.ts, rules.ts), run on the compiled
// forms the server sends (`ip` lines, `tz` tables, `window` lines), through the test-only entry
// filter/testing/stages.ts. server-twins.test.ts runs the same cases through the server.
import { beforeAll, describe, expect, it } from "vitest";
import { Stages } from "../filter/stages/stages-wasm.js";
import { cidrName, compiledBlock, connectionName, instantName, invalidBlockName, twins } from "./twins.js";

let s: Stages;
beforeAll(async () => {
  s = await Stages.load();
}, 240_000);

const utf8 = (text: string): number => new TextEncoder().encode(text).length;

/** Envoy's `source.address` for a source IP: `IP:PORT`, `[IPv6]:PORT`; empty when unknown. */
function envoyAddress(ip: string): string {
  if (ip === "") return "";
  return ip.includes(":") ? `[${ip}]:40000` : `${ip}:40000`;
}

/** The filter's reason strings, by number. */
function filterReasons(): string[] {
  const n = s.x.reasonCount();
  return Array.from({ length: Math.max(n, 0) }, (_, i) => s.text(s.x.reasonText(i)));
}

/** rules.ts select() for a connection over the loaded configuration: the rule's index, or the reason's text. */
function select(source: string, principal: string, port: number): number | string {
  const address = envoyAddress(source);
  const r = s.x.selectRule(s.put(address), utf8(address), s.put(principal), utf8(principal), port);
  return r >= 0 ? r : (filterReasons()[-1 - r] ?? `reason ${-1 - r}`);
}

describe("reason strings", () => {
  it("the filter has docs/design.md's reason strings, in the order of its R_* numbers", () => {
    expect(s.x.reasonCount()).toBe(twins.reasons.list.length);
    expect(filterReasons()).toEqual(twins.reasons.list);
  });
});

describe("CIDR: a source address against an `ip` block", () => {
  for (const c of twins.cidr.matches) {
    it(cidrName(c), () => {
      const block = compiledBlock(c);
      const address = envoyAddress(c.address);
      const found = s.x.cidrContains(s.put(block), utf8(block), s.put(address), utf8(address));
      expect(found).toBe(c.malformed ? -2 : c.inside ? 1 : 0);
    });
  }

  // The same cases through rule selection, as a rule's only `from` field.
  const onlyRule = (line: string): void => s.config(["segment payments/cidr enforce", "rule r", line]);
  for (const c of twins.cidr.matches) {
    it(`${cidrName(c)}: a rule with ipBlocks [${c.block}] ${c.inside ? "admits" : "does not admit"} it`, () => {
      onlyRule(`ip ${compiledBlock(c)}`);
      expect(select(c.address, "", 5432)).toBe(c.inside ? 0 : "source");
    });
    const notAdmitted = c.inside || c.malformed === true;
    it(`${cidrName(c)}: a rule with notIpBlocks [${c.block}] ${notAdmitted ? "does not admit" : "admits"} it`, () => {
      onlyRule(`notip ${compiledBlock(c)}`);
      expect(select(c.address, "", 5432)).toBe(notAdmitted ? "source" : 0);
    });
  }

  for (const b of twins.cidr.invalidBlocks) {
    it(invalidBlockName(b), () => {
      expect(s.x.cidrContains(s.put(b.block), utf8(b.block), s.put("10.1.2.3:40000"), utf8("10.1.2.3:40000"))).toBe(-1);
      expect(() => s.config(["segment payments/cidr enforce", "rule r", `ip ${b.block}`])).toThrow(/invalid configuration/);
    });
  }
});

describe("schedules: an instant against a rule's windows, under the compiled offset table", () => {
  for (const sc of twins.schedules.cases) {
    const zone = twins.zones[sc.zone];
    for (const i of sc.instants) {
      it(instantName(sc, i), () => {
        expect(zone, `no table for ${sc.zone}`).toBeDefined();
        s.config([`tz 0 ${zone}`, "segment payments/schedule enforce", "rule r", "schedule 0", ...sc.compiled.map(([a, b]) => `window ${a} ${b}`)]);
        expect(s.x.scheduleAdmits(0, BigInt(Date.parse(i.at))) === 1).toBe(i.inside);
      });
    }
  }
});

/** segment/rule of each rule of a compiled configuration, in order. */
function ruleNames(compiled: string[]): string[] {
  let segment = "";
  const names: string[] = [];
  for (const line of compiled) {
    const [keyword, name] = line.split(" ");
    if (keyword === "segment") segment = name ?? "";
    if (keyword === "rule") names.push(`${segment}/${name}`);
  }
  return names;
}

describe("rule selection over the compiled segments", () => {
  for (const sc of twins.selection.cases) {
    const names = ruleNames(sc.compiled);
    for (const c of sc.connections) {
      it(connectionName(c), () => {
        s.config(sc.compiled);
        const got = select(c.source, c.principal, c.port);
        if (c.rule !== undefined) expect(typeof got === "number" ? names[got] : got).toBe(c.rule);
        else expect(got).toBe(c.reason);
      });
    }
  }
});
