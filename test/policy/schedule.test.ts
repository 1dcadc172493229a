// Schedules compiled into offset tables and week windows (CONFIG.md `tz`, `schedule`,
// `window`): DST changes in Europe/Berlin and America/New_York, windows past midnight, Sunday
// windows running into Monday.

import { describe, expect, it } from "vitest";
import { compileForWorkload } from "../../xds-server/src/policy/compile.js";
import { windowIntervals } from "../../xds-server/src/policy/schedule.js";
import { offsetTable } from "../../xds-server/src/policy/timezone.js";
import { readConfig, ruleNamed, scheduleAdmits } from "./config-reader.js";
import { dedent, loadOne, segmentDoc } from "./helpers.js";

const utc = (iso: string): Date => new Date(iso);
const unix = (iso: string): number => Date.parse(iso) / 1000;
const NOW = utc("2026-06-15T12:00:00Z");

function compileRules(rulesYaml: string, now = NOW): ReturnType<typeof readConfig> & { text: string } {
  const seg = loadOne(segmentDoc(`rules:\n${dedent(rulesYaml).replace(/^/gm, "  ")}`));
  const { config } = compileForWorkload([seg], { namespace: "team-a", labels: {}, annotations: {} }, { now });
  return { ...readConfig(config), text: config };
}

describe("offset tables", () => {
  it("Europe/Berlin: CET (+60) until the last Sunday of March 01:00 UTC, CEST (+120) until the last Sunday of October", () => {
    const table = offsetTable("Europe/Berlin", 2026, 2029);
    expect(table.initial).toBe(60);
    expect(table.transitions).toEqual([
      { at: unix("2026-03-29T01:00:00Z"), offset: 120 },
      { at: unix("2026-10-25T01:00:00Z"), offset: 60 },
      { at: unix("2027-03-28T01:00:00Z"), offset: 120 },
      { at: unix("2027-10-31T01:00:00Z"), offset: 60 },
      { at: unix("2028-03-26T01:00:00Z"), offset: 120 },
      { at: unix("2028-10-29T01:00:00Z"), offset: 60 },
    ]);
  });

  it("America/New_York: EST (-300), EDT (-240) from the second Sunday of March 07:00 UTC to the first Sunday of November 06:00 UTC", () => {
    const table = offsetTable("America/New_York", 2026, 2027);
    expect(table).toEqual({
      initial: -300,
      transitions: [
        { at: unix("2026-03-08T07:00:00Z"), offset: -240 },
        { at: unix("2026-11-01T06:00:00Z"), offset: -300 },
      ],
    });
  });

  it("zones without DST have no transitions; half-hour offsets are kept in minutes", () => {
    expect(offsetTable("UTC", 2026, 2029)).toEqual({ initial: 0, transitions: [] });
    expect(offsetTable("Asia/Kolkata", 2026, 2029)).toEqual({ initial: 330, transitions: [] });
    expect(offsetTable("Australia/Adelaide", 2026, 2027).initial).toBe(630); // +10:30 in the southern summer
  });

  it("the compiled table starts on 1 January of the compilation year and covers three years, so it is the same all year and always 400+ days ahead", () => {
    const rules = `
      - name: r
        schedule: { timezone: Europe/Berlin, windows: [{ days: [Mon], start: "08:00", end: "18:00" }] }
    `;
    const january = compileRules(rules, utc("2026-01-01T00:00:00Z"));
    const december = compileRules(rules, utc("2026-12-31T23:59:59Z"));
    expect(december.text).toBe(january.text);
    const zone = december.zones.get(0);
    const last = zone?.transitions.at(-1)?.[0] ?? 0;
    expect(last - unix("2026-12-31T23:59:59Z")).toBeGreaterThan(400 * 86400);
    expect(compileRules(rules, utc("2027-01-01T00:00:00Z")).text).not.toBe(january.text);
  });
});

describe("week windows", () => {
  it("a window belongs to the day it starts: minutes of the local week, Monday 00:00 = 0", () => {
    expect(windowIntervals({ days: ["Mon", "Wed"], start: "08:00", end: "18:00" })).toEqual([
      { start: 480, end: 1080 },
      { start: 2 * 1440 + 480, end: 2 * 1440 + 1080 },
    ]);
    expect(windowIntervals({ days: ["Tue"], start: "00:00", end: "24:00" })).toEqual([{ start: 1440, end: 2880 }]);
  });

  it("an end before the start runs past midnight into the next day", () => {
    expect(windowIntervals({ days: ["Fri"], start: "22:00", end: "06:00" })).toEqual([{ start: 4 * 1440 + 1320, end: 5 * 1440 + 360 }]);
    expect(windowIntervals({ days: ["Sat"], start: "23:59", end: "00:00" })).toEqual([{ start: 5 * 1440 + 1439, end: 6 * 1440 }]);
  });

  it("a Sunday window past midnight ends after 10080, in next Monday", () => {
    expect(windowIntervals({ days: ["Sun"], start: "22:00", end: "02:00" })).toEqual([{ start: 9960, end: 10200 }]);
  });

  it("days are taken Monday to Sunday, each once, whatever order they are written in", () => {
    expect(windowIntervals({ days: ["Sun", "Mon", "Sun"], start: "10:00", end: "11:00" })).toEqual([
      { start: 600, end: 660 },
      { start: 9240, end: 9300 },
    ]);
  });

  it("windows are listed sorted and without repeats", () => {
    const { text } = compileRules(`
      - name: r
        schedule:
          windows:
            - { days: [Wed], start: "08:00", end: "09:00" }
            - { days: [Mon, Wed], start: "08:00", end: "09:00" }
    `);
    expect(text).toContain("schedule 0\nwindow 480 540\nwindow 3360 3420\n");
    expect(text).toContain("tz 0 0\n"); // no timezone: UTC
  });
});

describe("schedules across DST changes, evaluated as the filter does", () => {
  const berlin = compileRules(`
    - name: office
      schedule:
        timezone: Europe/Berlin
        windows: [{ days: [Mon, Tue, Wed, Thu, Fri], start: "08:00", end: "18:00" }]
    - name: night-of-the-change
      schedule:
        timezone: Europe/Berlin
        windows: [{ days: [Sun], start: "01:00", end: "04:00" }]
  `);

  it("Berlin office hours follow local time in the week of the spring change (UTC 07:00 → 08:00 local becomes 09:00)", () => {
    const office = ruleNamed(berlin, "office");
    // Friday 27 March 2026, CET (UTC+1)
    expect(scheduleAdmits(berlin, office, utc("2026-03-27T06:59:00Z"))).toBe(false); // 07:59 local
    expect(scheduleAdmits(berlin, office, utc("2026-03-27T07:00:00Z"))).toBe(true); // 08:00 local
    expect(scheduleAdmits(berlin, office, utc("2026-03-27T16:59:00Z"))).toBe(true); // 17:59 local
    expect(scheduleAdmits(berlin, office, utc("2026-03-27T17:00:00Z"))).toBe(false); // 18:00 local
    // Monday 30 March 2026, CEST (UTC+2): the same local hours are one hour earlier in UTC
    expect(scheduleAdmits(berlin, office, utc("2026-03-30T05:59:00Z"))).toBe(false); // 07:59 local
    expect(scheduleAdmits(berlin, office, utc("2026-03-30T06:00:00Z"))).toBe(true); // 08:00 local
    expect(scheduleAdmits(berlin, office, utc("2026-03-30T15:59:00Z"))).toBe(true); // 17:59 local
    expect(scheduleAdmits(berlin, office, utc("2026-03-30T16:00:00Z"))).toBe(false); // 18:00 local
  });

  it("Berlin: the night of the change (02:00 → 03:00 local) — a 01:00–04:00 window lasts two real hours", () => {
    const night = ruleNamed(berlin, "night-of-the-change");
    expect(scheduleAdmits(berlin, night, utc("2026-03-28T23:59:00Z"))).toBe(false); // 00:59 CET
    expect(scheduleAdmits(berlin, night, utc("2026-03-29T00:00:00Z"))).toBe(true); // 01:00 CET
    expect(scheduleAdmits(berlin, night, utc("2026-03-29T00:59:59Z"))).toBe(true); // 01:59:59 CET
    expect(scheduleAdmits(berlin, night, utc("2026-03-29T01:00:00Z"))).toBe(true); // 03:00 CEST
    expect(scheduleAdmits(berlin, night, utc("2026-03-29T01:59:00Z"))).toBe(true); // 03:59 CEST
    expect(scheduleAdmits(berlin, night, utc("2026-03-29T02:00:00Z"))).toBe(false); // 04:00 CEST
  });

  it("Berlin autumn change: Friday 23 October (CEST) and Monday 26 October (CET)", () => {
    const office = ruleNamed(berlin, "office");
    expect(scheduleAdmits(berlin, office, utc("2026-10-23T06:00:00Z"))).toBe(true); // 08:00 CEST
    expect(scheduleAdmits(berlin, office, utc("2026-10-26T06:00:00Z"))).toBe(false); // 07:00 CET
    expect(scheduleAdmits(berlin, office, utc("2026-10-26T07:00:00Z"))).toBe(true); // 08:00 CET
    expect(scheduleAdmits(berlin, office, utc("2026-10-26T16:59:00Z"))).toBe(true); // 17:59 CET
  });

  const newYork = compileRules(`
    - name: office
      schedule:
        timezone: America/New_York
        windows: [{ days: [Mon, Tue, Wed, Thu, Fri], start: "09:00", end: "17:00" }]
  `);

  it("New York office hours across the November change (EDT, UTC-4 → EST, UTC-5)", () => {
    const office = ruleNamed(newYork, "office");
    expect(scheduleAdmits(newYork, office, utc("2026-10-30T13:00:00Z"))).toBe(true); // Fri 09:00 EDT
    expect(scheduleAdmits(newYork, office, utc("2026-10-30T21:00:00Z"))).toBe(false); // Fri 17:00 EDT
    expect(scheduleAdmits(newYork, office, utc("2026-11-02T13:30:00Z"))).toBe(false); // Mon 08:30 EST
    expect(scheduleAdmits(newYork, office, utc("2026-11-02T14:00:00Z"))).toBe(true); // Mon 09:00 EST
    expect(scheduleAdmits(newYork, office, utc("2026-11-02T21:59:00Z"))).toBe(true); // Mon 16:59 EST
    expect(scheduleAdmits(newYork, office, utc("2026-11-02T22:00:00Z"))).toBe(false); // Mon 17:00 EST
  });

  it("New York across the March change (EST → EDT on Sunday 8 March)", () => {
    const office = ruleNamed(newYork, "office");
    expect(scheduleAdmits(newYork, office, utc("2026-03-06T14:00:00Z"))).toBe(true); // Fri 09:00 EST
    expect(scheduleAdmits(newYork, office, utc("2026-03-09T13:00:00Z"))).toBe(true); // Mon 09:00 EDT
    expect(scheduleAdmits(newYork, office, utc("2026-03-09T12:59:00Z"))).toBe(false); // Mon 08:59 EDT
  });
});

describe("windows past midnight, evaluated as the filter does", () => {
  const config = compileRules(`
    - name: friday-night
      schedule: { timezone: UTC, windows: [{ days: [Fri], start: "22:00", end: "06:00" }] }
    - name: sunday-night
      schedule: { timezone: Europe/Berlin, windows: [{ days: [Sun], start: "22:00", end: "02:00" }] }
  `);

  it("a Friday 22:00–06:00 window is open Friday night and Saturday morning, not Friday evening or Saturday at 06:00", () => {
    const rule = ruleNamed(config, "friday-night");
    expect(rule.windows).toEqual([[7080, 7560]]);
    expect(scheduleAdmits(config, rule, utc("2026-06-12T21:59:00Z"))).toBe(false); // Fri 21:59
    expect(scheduleAdmits(config, rule, utc("2026-06-12T22:00:00Z"))).toBe(true);
    expect(scheduleAdmits(config, rule, utc("2026-06-13T05:59:00Z"))).toBe(true); // Sat 05:59
    expect(scheduleAdmits(config, rule, utc("2026-06-13T06:00:00Z"))).toBe(false);
    expect(scheduleAdmits(config, rule, utc("2026-06-13T22:30:00Z"))).toBe(false); // Saturday night: not listed
  });

  it("a Sunday 22:00–02:00 window runs into Monday (END > 10080), in local time", () => {
    const rule = ruleNamed(config, "sunday-night");
    expect(rule.windows).toEqual([[9960, 10200]]);
    // Sunday 14 June 2026, CEST: 22:00 local = 20:00 UTC; Monday 01:59 local = Sunday 23:59 UTC
    expect(scheduleAdmits(config, rule, utc("2026-06-14T19:59:00Z"))).toBe(false);
    expect(scheduleAdmits(config, rule, utc("2026-06-14T20:00:00Z"))).toBe(true);
    expect(scheduleAdmits(config, rule, utc("2026-06-14T23:59:00Z"))).toBe(true); // Mon 01:59 local
    expect(scheduleAdmits(config, rule, utc("2026-06-15T00:00:00Z"))).toBe(false); // Mon 02:00 local
    expect(scheduleAdmits(config, rule, utc("2026-06-15T21:00:00Z"))).toBe(false); // Mon 23:00 local
  });
});
