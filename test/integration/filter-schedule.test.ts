// Time of day through the real Envoy: a window containing now admits, one that does not denies with
// `schedule`, and a live connection is closed within one second of its window's end. Windows are
// compiled by the project's compiler; for the live close, the compiled UTC table (`tz 0 0`) is then
// swapped for a crafted one (filter/CONFIG.md `tz`) whose offset jumps by +180 minutes at a chosen
// Unix second, moving local time out of the window a few seconds from now instead of at a minute.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAYS } from "../../api/picosegment.js";
import {
  FilterEnv, TcpClient, compileSegments, expectAllowedEcho, expectDenied, segment, sleep, type Window,
} from "../../testkit/envoy/harness.js";

/** A UTC window of `len` minutes starting `offsetMin` minutes from `now` (may wrap midnight). */
function utcWindow(now: Date, offsetMin: number, len: number): Window {
  const from = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + offsetMin * 60_000);
  const to = new Date(from.getTime() + len * 60_000);
  const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
  return { days: [DAYS[(from.getUTCDay() + 6) % 7]!], start: hhmm(from), end: hhmm(to) };
}

const scheduled = (name: string, window: Window): string =>
  compileSegments([segment(name, { rules: [{ name, schedule: { timezone: "UTC", windows: [window] } }] })]);

describe("picoseg filter in Envoy: schedules", () => {
  let env: FilterEnv;
  let windowEndsAtMs: number;

  beforeAll(async () => {
    const now = new Date();
    // Envoy starts in about a second; leave the live connection a few seconds inside its window.
    const endSec = Math.ceil(now.getTime() / 1000) + 6;
    windowEndsAtMs = endSec * 1000;
    const ending = scheduled("until-soon", utcWindow(now, -60, 120));
    // The compiled UTC table is `tz 0 0`; give it a +180-minute jump at endSec instead.
    expect(ending.match(/^tz .*$/gm)).toEqual(["tz 0 0"]);
    env = await FilterEnv.start([
      { name: "open", config: () => scheduled("now", utcWindow(now, -60, 120)) },
      { name: "closed", config: () => scheduled("later", utcWindow(now, 120, 60)) },
      { name: "ending", config: () => ending.replace(/^tz 0 0$/m, `tz 0 0 ${endSec} 180`) },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("allows a connection inside a window that contains now", async () => {
    const before = await env.snapshot();
    const { client } = await expectAllowedEcho(env, "open", "in office hours\n", before);
    client.destroy();
  });

  it("denies a connection outside every window with reason schedule", async () => {
    const before = await env.snapshot();
    const c = await TcpClient.connect(env.port("closed"));
    await c.write("too early\n");
    await expectDenied(env, c, "schedule", before);
    expect(c.received().length).toBe(0);
    expect(env.upstream("closed").totalReceived()).toBe(0);
  });

  it("closes a live connection within one second of its window's end", async () => {
    expect(Date.now()).toBeLessThan(windowEndsAtMs - 1500); // the setup left time to observe it open
    const before = await env.snapshot();
    const { client, upstream } = await expectAllowedEcho(env, "ending", "before the end\n", before);
    await sleep(Math.max(0, windowEndsAtMs - 300 - Date.now()));
    expect(client.isOpen()).toBe(true);
    const kind = await client.waitForClose(3000);
    const closedAt = Date.now();
    expect(kind).toBeDefined();
    expect(closedAt).toBeGreaterThanOrEqual(windowEndsAtMs);
    expect(closedAt).toBeLessThanOrEqual(windowEndsAtMs + 1000);
    await upstream.waitForClose(2000);
    expect(upstream.received().toString()).toBe("before the end\n");
    expect(client.received().toString()).toBe("before the end\n");
    await env.expectCounterDelta(before, "picoseg.denied.schedule", 1);
    await env.envoy.waitForDecision((d) => d.picoseg === "deny" && d.reason === "schedule" && d.port === env.port("ending"), 3000, before.decisions);
  });

  it("the filter never failed in Envoy (no trap, no abort) during these tests", () => {
    expect(env.wasmFailures()).toEqual([]);
  });
});
