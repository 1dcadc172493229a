// Time of day through the real Envoy: a window containing now admits, one that does not denies with
// `schedule`, and a live connection is closed within one second of its window's end. The end is made
// to fall a few seconds from now with a crafted time-zone table (filter/CONFIG.md `tz`): the zone's
// UTC offset jumps by +180 minutes at a chosen Unix second, moving local time out of the window.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, TcpClient, expectAllowedEcho, expectDenied, picosegConfig, sleep } from "./harness/index.js";

const WEEK = 10080;

/** Minutes since Monday 00:00 UTC. */
function minuteOfWeekUtc(d: Date): number {
  return ((d.getUTCDay() + 6) % 7) * 1440 + d.getUTCHours() * 60 + d.getUTCMinutes();
}

/** A window [start, start+len) in the filter's week minutes, start normalised into [0, WEEK). */
function windowLine(start: number, len: number): string {
  const s = ((start % WEEK) + WEEK) % WEEK;
  return `window ${s} ${s + len}`;
}

describe("picoseg filter in Envoy: schedules", () => {
  let env: FilterEnv;
  let windowEndsAtMs: number;

  beforeAll(async () => {
    const now = new Date();
    const m = minuteOfWeekUtc(now);
    // Envoy starts in about a second; leave the live connection a few seconds inside its window.
    const endSec = Math.ceil(now.getTime() / 1000) + 6;
    windowEndsAtMs = endSec * 1000;
    env = await FilterEnv.start([
      {
        name: "open",
        config: () => picosegConfig("tz 0 0", "segment it/office enforce", "rule now", "schedule 0", windowLine(m - 60, 120)),
      },
      {
        name: "closed",
        config: () => picosegConfig("tz 0 0", "segment it/night enforce", "rule later", "schedule 0", windowLine(m + 120, 60)),
      },
      {
        name: "ending",
        config: () => picosegConfig(`tz 0 0 ${endSec} 180`, "segment it/ending enforce", "rule until-soon", "schedule 0", windowLine(m - 60, 120)),
      },
    ]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("allows a connection inside a window that contains now", async () => {
    const before = await env.counters();
    const { client } = await expectAllowedEcho(env, "open", "in office hours\n", before);
    client.destroy();
  });

  it("denies a connection outside every window with reason schedule", async () => {
    const before = await env.counters();
    const c = await TcpClient.connect(env.port("closed"));
    await c.write("too early\n");
    await expectDenied(env, c, "schedule", before);
    expect(c.received().length).toBe(0);
    expect(env.upstream("closed").totalReceived()).toBe(0);
  });

  it("closes a live connection within one second of its window's end", async () => {
    expect(Date.now()).toBeLessThan(windowEndsAtMs - 1500); // the setup left time to observe it open
    const before = await env.counters();
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
    await env.envoy.waitForDecision((d) => d.picoseg === "deny" && d.reason === "schedule" && d.port === env.port("ending"));
  });
});
