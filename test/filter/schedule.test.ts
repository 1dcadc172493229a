// Time of day: weekly windows in local time from the compiler's UTC-offset table; live connections cut at window end.
import { describe, expect, it } from "vitest";
import type { FilterHost } from "../../testkit/filter-host/index.js";
import { config, hostWith } from "./helpers.js";

const H = 3600_000;
const M = 60_000;
const min = (day: number, hh: number, mm = 0) => day * 1440 + hh * 60 + mm; // day 0 = Monday

/** Europe/Berlin in 2026: CET (+60) until 2026-03-29 01:00 UTC, CEST (+120) until 2026-10-25 01:00 UTC. */
const BERLIN_2026 = `tz 0 60 ${Date.UTC(2026, 2, 29, 1) / 1000} 120 ${Date.UTC(2026, 9, 25, 1) / 1000} 60`;

function scheduled(tzLine: string, ...windows: [number, number][]) {
  return config(tzLine, "segment ns/office enforce", "rule office", "schedule 0", ...windows.map(([s, e]) => `window ${s} ${e}`));
}

/**
 * What new connections get around one day's window from `open` to `close` (UTC hours): a minute before
 * it opens, as it opens, a minute before it ends, as it ends — "admitted" or the reason they were closed.
 */
function verdictsAroundWindow(host: FilterHost, dayUtcMs: number, open: number, close: number): (string | null)[] {
  return [open * H - M, open * H, close * H - M, close * H].map((ms) => {
    host.setTime(dayUtcMs + ms);
    const c = host.connect();
    return c.closed ? c.closeReason : "admitted";
  });
}
const WINDOW_VERDICTS = ["schedule", "admitted", "admitted", "schedule"];

describe("schedule at connect", () => {
  it("office hours Mon–Fri 08:00–18:00 UTC: inside admits, the end minute and outside deny", async () => {
    const days = [0, 1, 2, 3, 4].map((d) => [min(d, 8), min(d, 18)] as [number, number]);
    const host = await hostWith(scheduled("tz 0 0", ...days), { nowMs: Date.UTC(2026, 0, 5, 8, 0) }); // Monday 08:00
    expect(host.connect().closed).toBe(false);
    host.setTime(Date.UTC(2026, 0, 5, 17, 59, 59));
    expect(host.connect().closed).toBe(false);
    host.setTime(Date.UTC(2026, 0, 5, 18, 0));
    const late = host.connect();
    expect(late.closeReason).toBe("schedule");
    host.setTime(Date.UTC(2026, 0, 10, 12, 0)); // Saturday
    expect(host.connect().closeReason).toBe("schedule");
    expect(host.counter("picoseg.denied.schedule")).toBe(2);
  });

  it("a window that wraps midnight (Fri 22:00 → Sat 02:00) belongs to the day it starts", async () => {
    const host = await hostWith(scheduled("tz 0 0", [min(4, 22), min(4, 22) + 240]), { nowMs: Date.UTC(2026, 0, 9, 21, 59) });
    expect(host.connect().closeReason).toBe("schedule");
    host.setTime(Date.UTC(2026, 0, 9, 23, 30)); // Friday 23:30
    expect(host.connect().closed).toBe(false);
    host.setTime(Date.UTC(2026, 0, 10, 1, 59)); // Saturday 01:59
    expect(host.connect().closed).toBe(false);
    host.setTime(Date.UTC(2026, 0, 10, 2, 0));
    expect(host.connect().closeReason).toBe("schedule");
    host.setTime(Date.UTC(2026, 0, 8, 23, 30)); // Thursday 23:30: no window starts on Thursday
    expect(host.connect().closeReason).toBe("schedule");
  });

  it("Sunday 22:00 → Monday 02:00 runs past the end of the week into next Monday", async () => {
    const host = await hostWith(scheduled("tz 0 0", [min(6, 22), min(6, 22) + 240]), { nowMs: Date.UTC(2026, 0, 12, 1, 0) }); // Monday 01:00
    expect(host.connect().closed).toBe(false);
    host.setTime(Date.UTC(2026, 0, 12, 2, 0));
    expect(host.connect().closeReason).toBe("schedule");
  });

  it("a negative UTC offset shifts the window (America/New_York winter, -300)", async () => {
    const host = await hostWith(scheduled("tz 0 -300", [min(0, 9), min(0, 17)]), { nowMs: Date.UTC(2026, 0, 5, 13, 59) });
    expect(host.connect().closeReason).toBe("schedule"); // 08:59 local
    host.setTime(Date.UTC(2026, 0, 5, 14, 0));
    expect(host.connect().closed).toBe(false); // 09:00 local
    host.setTime(Date.UTC(2026, 0, 5, 22, 0));
    expect(host.connect().closeReason).toBe("schedule"); // 17:00 local
  });

  it("on the DST change day (Berlin, 29 March 2026) the window stays at local wall-clock time", async () => {
    const sunday = [min(6, 8), min(6, 18)] as [number, number];
    const host = await hostWith(scheduled(BERLIN_2026, sunday), { nowMs: Date.UTC(2026, 2, 22, 6, 59) });
    // The Sunday before the change: 08:00 CET is 07:00 UTC.
    expect(verdictsAroundWindow(host, Date.UTC(2026, 2, 22), 7, 17)).toEqual(WINDOW_VERDICTS);
    // The change day: clocks jumped at 01:00 UTC, so 08:00 CEST is 06:00 UTC and 18:00 CEST is 16:00 UTC.
    expect(verdictsAroundWindow(host, Date.UTC(2026, 2, 29), 6, 16)).toEqual(WINDOW_VERDICTS);
  });

  it("the autumn change (25 October 2026) moves the window back to 07:00–17:00 UTC", async () => {
    const host = await hostWith(scheduled(BERLIN_2026, [min(6, 8), min(6, 18)]), { nowMs: Date.UTC(2026, 9, 25, 6, 59) });
    expect(host.connect().closeReason).toBe("schedule");
    host.setTime(Date.UTC(2026, 9, 25, 7, 0));
    expect(host.connect().closed).toBe(false);
    host.setTime(Date.UTC(2026, 9, 25, 17, 0));
    expect(host.connect().closeReason).toBe("schedule");
  });

  it("a schedule without windows never admits", async () => {
    const host = await hostWith(config("tz 0 0", "segment ns/a enforce", "rule r", "schedule 0"));
    expect(host.connect().closeReason).toBe("schedule");
  });
});

describe("schedule on live connections", () => {
  it("a live connection is closed within one second of its window ending", async () => {
    const host = await hostWith(scheduled("tz 0 0", [min(0, 8), min(0, 18)]), { nowMs: Date.UTC(2026, 0, 5, 17, 59, 0) });
    const c = host.connect();
    c.fromClient("working late");
    host.advance(59 * 1000);
    expect(c.closed).toBe(false);
    host.advance(2000); // 18:00:01
    expect(c.closed).toBe(true);
    expect(c.closeReason).toBe("schedule");
    expect(c.decisions().find((d) => d.picoseg === "deny")!.bytesIn).toBe(12);
  });

  it("the window end in local time across the DST change closes at 16:00 UTC", async () => {
    const host = await hostWith(scheduled(BERLIN_2026, [min(6, 8), min(6, 18)]), { nowMs: Date.UTC(2026, 2, 29, 15, 59) });
    const c = host.connect();
    host.advance(M - 1);
    expect(c.closed).toBe(false);
    host.advance(1001);
    expect(c.closeReason).toBe("schedule");
  });
});

describe("maxDurationSeconds", () => {
  it("a connection is closed with `duration` within a second of its lifetime ending", async () => {
    const host = await hostWith(config("segment ns/a enforce", "rule r", "maxDurationSeconds 10"));
    const c = host.connect();
    host.advance(9_900);
    expect(c.closed).toBe(false);
    host.advance(1_000);
    expect(c.closed).toBe(true);
    expect(c.closeReason).toBe("duration");
    expect(host.counter("picoseg.denied.duration")).toBe(1);
  });

  it("each connection has its own clock", async () => {
    const host = await hostWith(config("segment ns/a enforce", "rule r", "maxDurationSeconds 3600"));
    const a = host.connect();
    host.advance(H / 2);
    const b = host.connect();
    host.advance(H / 2 + 1000);
    expect(a.closeReason).toBe("duration");
    expect(b.closed).toBe(false);
  });
});
