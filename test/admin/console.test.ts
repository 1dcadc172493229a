// The console and the report on the HTTP side: behind the same authentication as /status (a
// bearer token, or the cookie /ui/login trades it for), read-only, and served from the project's
// own files and node_modules.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

let fx: Fixture | undefined;
let dir = "";
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = "";
});

const TOKEN = "console-test-token-0123456789";

const req = (p: string, init: RequestInit = {}): Promise<Response> => fetch(`${fx!.server.httpUrl}${p}`, { redirect: "manual", ...init });

describe("the console's HTTP side", () => {
  it("without credentials: data and console refused, /ui sends to the sign-in form, which (and its style) is open", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-token-"));
    const tokenFile = path.join(dir, "token");
    await writeFile(tokenFile, `${TOKEN}\n`);
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) }, { adminTokenFile: tokenFile });
    for (const p of ["/status", "/metrics", "/report", "/decisions", "/ui/console.js", "/ui/vendor/uPlot.iife.min.js"]) {
      expect((await req(p)).status, p).toBe(401);
    }
    const ui = await req("/ui");
    expect(ui.status).toBe(303);
    expect(ui.headers.get("location")).toBe("/ui/login");
    const login = await req("/ui/login");
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('<form method="post" action="/ui/login">');
    expect((await req("/ui/console.css")).status).toBe(200);

    const wrong = await req("/ui/login", { method: "POST", body: new URLSearchParams({ token: "nope" }) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const right = await req("/ui/login", { method: "POST", body: new URLSearchParams({ token: TOKEN }) });
    expect(right.status).toBe(303);
    const cookie = right.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^picoseg_token=[^;]+; HttpOnly; SameSite=Strict; Path=\/$/);
    const page = await req("/ui", { headers: { cookie: cookie.split(";")[0]! } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script src="/ui/vendor/uPlot.iife.min.js" defer></script>');
    expect((await req("/report", { headers: { cookie: cookie.split(";")[0]! } })).status).toBe(200);
    expect((await req("/status", { headers: { cookie: "picoseg_token=forged" } })).status).toBe(401);

    // The bearer token opens the same; uPlot is node_modules' own file, byte for byte.
    const uplot = await req("/ui/vendor/uPlot.iife.min.js", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(uplot.status).toBe(200);
    const dist = path.join(path.dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist", "uPlot.iife.min.js");
    expect(Buffer.from(await uplot.arrayBuffer()).equals(readFileSync(dist))).toBe(true);
  });

  it("read-only: any other method is refused; a bad regime is a 400 naming the choices", async () => {
    fx = await startFixture({ "db.yaml": segment("db", "db", 5432) });
    expect((await req("/ui", { method: "POST" })).status).toBe(405);
    expect((await req("/status", { method: "DELETE" })).status).toBe(405);
    const bad = await req("/report?compliance=sox");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('compliance: "sox" is not one of pci-dss, hipaa\n');
    const d = (await (await req("/decisions")).json()) as { intervalMs: number; samples: unknown[]; missing: string };
    expect(d.intervalMs).toBe(1000);
    expect(d.missing).toMatch(/source, principal and port/);
    // On loopback with no token and no client CA, the console is as open as /status.
    expect((await req("/ui")).status).toBe(200);
  });
});
