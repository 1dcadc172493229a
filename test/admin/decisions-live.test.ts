// /decisions/live, /observations and /proposals show who connects and who was denied: behind the
// same authentication as /status; with it, the event stream opens at once (its events:
// observe-report.test.ts), and a bad option is a 400 naming it.
import { afterEach, describe, expect, it } from "vitest";
import { Stops, tokenScratch } from "../../testkit/envoy/exchange.js";
import { segment, startFixture } from "../../testkit/xds/server-fixture.js";

const stops = new Stops();
afterEach(() => stops.run());

const TOKEN = "feed-test-token-0123456789";

describe("learning mode's HTTP side", () => {
  it("refuses /decisions/live, /observations and /proposals without the token; with it, the event stream opens at once", async () => {
    const { tokenFile } = await tokenScratch(stops, "picoseg-token-", TOKEN);
    const fx = stops.add(await startFixture({ "db.yaml": segment("db", "db", 5432) }, { adminTokenFile: tokenFile }));
    for (const p of ["/decisions/live", "/observations?workload=shop/db&since=0", "/proposals"]) {
      expect((await fetch(`${fx.server.httpUrl}${p}`)).status, p).toBe(401);
    }
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${fx.server.httpUrl}/observations?workload=nope`, { headers: auth })).status).toBe(400);
    for (const [q, error] of [
      ["margin=0.5", 'margin: a factor >= 1, got "0.5"'],
      ["since=yesterday", 'since: "yesterday" is not a positive duration: an integer followed by s, m, h or d (e.g. 90s, 10m, 1h, 1d)'],
      ["timezone=Mars/Olympus", "timezone: "],
      ["workload=db", 'workload: expected NS/NAME, got "db"'],
    ] as const) {
      const res = await fetch(`${fx.server.httpUrl}/proposals?${q}`, { headers: auth });
      expect([q, res.status]).toEqual([q, 400]);
      expect(((await res.json()) as { error: string }).error).toContain(error);
    }
    const none = (await (await fetch(`${fx.server.httpUrl}/proposals`, { headers: auth })).json()) as { workloads: unknown[]; segmentsInForce: string[] };
    expect(none).toMatchObject({ workloads: [], segmentsInForce: ["shop/db"] });
    const abort = new AbortController();
    const res = await fetch(`${fx.server.httpUrl}/decisions/live`, { headers: auth, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(": picoseg denied attempts\n\n");
    abort.abort();
  });
});
