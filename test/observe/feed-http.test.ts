// /decisions/live and /observations show who connects and who was denied: behind the same
// authentication as /status; with it, the event stream opens at once (its events: observe-report.test.ts).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Stops } from "../integration/harness/exchange.js";
import { segment, startFixture } from "../xds/server-fixture.js";

const stops = new Stops();
afterEach(() => stops.run());

const TOKEN = "feed-test-token-0123456789";

describe("learning mode's HTTP side", () => {
  it("refuses /decisions/live and /observations without the token; with it, the event stream opens at once", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "picoseg-token-"));
    stops.add({ close: () => rm(dir, { recursive: true, force: true }) });
    const tokenFile = path.join(dir, "token");
    await writeFile(tokenFile, `${TOKEN}\n`);
    const fx = stops.add(await startFixture({ "db.yaml": segment("db", "db", 5432) }, { adminTokenFile: tokenFile }));
    for (const p of ["/decisions/live", "/observations?workload=shop/db&since=0"]) {
      expect((await fetch(`${fx.server.httpUrl}${p}`)).status, p).toBe(401);
    }
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${fx.server.httpUrl}/observations?workload=nope`, { headers: auth })).status).toBe(400);
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
