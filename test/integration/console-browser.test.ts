// The console in a real browser: Debian's Chromium (scripts/install-chromium.sh) driven by
// playwright-core, against a real server and a real Envoy sidecar. The page signs in with the
// admin token, loads with no console error, shows the sidecar's proxy in sync, and shows within 2 s
// a policy edit and a denial made by a real connection through the sidecar. The sidecar is in
// learning mode too: the page shows the segment `picoseg learn` proposes from what it reported,
// and what-if of the proposal and of the segments in force, which a policy edit then tightens.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { roundTrip } from "../../testkit/envoy/round-trip.js";
import { startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";
import { XdsSidecar, exchange, freePorts, picoseg, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const TOKEN = "browser-test-token-5b1f0c";

let chromiumPath = "";
let browser: Browser | undefined;
let fx: Fixture | undefined;
let sidecar: XdsSidecar | undefined;
let tmp = "";

beforeAll(() => {
  // Installs Debian's chromium on first use (apt-get update first); prints the binary's path.
  chromiumPath = execFileSync("bash", [path.join(ROOT, "scripts", "install-chromium.sh")], { encoding: "utf8", timeout: 600_000 }).trim().split("\n").at(-1)!;
}, 610_000);
afterEach(async () => {
  await browser?.close();
  await sidecar?.stop();
  await fx?.close();
  browser = sidecar = fx = undefined;
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = "";
});
afterAll(stopAllEnvoys);

// With `opsHost`, a second rule admits 127.0.0.2 (the connection the filter observes).
const segmentYaml = (name: string, port: number, opsHost = true): string => `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: ${name}, namespace: shop }
spec:
  selector: { matchLabels: { app: card-db } }
  compliance: [pci-dss]
  learn: true
  rules:
    - name: payments-subnet
      from: { ipBlocks: ["10.20.0.0/16"] }
      ports: [${port}]
${opsHost ? `    - name: ops-host
      from: { ipBlocks: ["127.0.0.2/32"] }
      ports: [${port}]
      protocols: [http1, unknown]
` : ""}`;

describe("the console in Chromium", () => {
  it("signs in, shows the sidecar's proxy, a policy edit and a real denial within 2 s, and the learned proposal with its what-if, with no console error", async () => {
    expect(existsSync(chromiumPath)).toBe(true);
    tmp = await mkdtemp(path.join(tmpdir(), "picoseg-console-"));
    const tokenFile = path.join(tmp, "token");
    await writeFile(tokenFile, `${TOKEN}\n`);
    const [listenPort, adminPort] = (await freePorts(2)) as [number, number];
    fx = await startFixture({ "card-db.yaml": segmentYaml("card-db", listenPort) }, {
      wasmPath: defaultWasmPath(),
      adminTokenFile: tokenFile,
      decisionIntervalMs: 200,
      observations: { report: { intervalMs: 500 } },
    });
    sidecar = await XdsSidecar.start({
      xdsPort: fx.server.xdsPort,
      listenPort,
      adminPort,
      node: { id: "card-db-1", cluster: "card-db.shop", namespace: "shop", labels: { app: "card-db", "picoseg.io/data-class": "pci" }, workloadName: "card-db" },
    });

    // Chromium refuses to run as root without --no-sandbox (CI containers run as root).
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(`${fx.server.httpUrl}/ui`);
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`${fx.server.httpUrl}/ui`), page.click('button[type="submit"]')]);

    const row = page.locator('#proxies tr[data-node="card-db-1"]');
    await row.waitFor({ timeout: 5000 });
    await expect.poll(() => row.textContent(), { timeout: 5000 }).toContain("in sync");
    expect(await row.textContent()).toContain("shop/card-db");
    const report = page.locator('#report [data-workload="shop/card-db"]');
    await expect.poll(() => report.textContent(), { timeout: 3000 }).toContain("enforce");

    // A policy edit: a second segment selecting the workload appears with it within 2 s.
    let t0 = Date.now();
    await fx.write("extra.yaml", segmentYaml("card-db-extra", listenPort));
    await page.locator('#segments tr[data-segment="shop/card-db-extra"]', { hasText: "card-db-1" }).waitFor({ timeout: 2000 });
    expect(Date.now() - t0).toBeLessThan(2000);

    // A real connection denied by the filter in the real Envoy: counted on the page within 2 s.
    expect(await roundTrip(listenPort)).toBe("denied");
    expect(await sidecar.envoy.counter("picoseg.denied.source")).toBe(1);
    t0 = Date.now();
    await page.locator('#decisions tr[data-node="card-db-1"] td.counts', { hasText: "deny:source 1" }).waitFor({ timeout: 2000 });
    expect(Date.now() - t0).toBeLessThan(2000);
    await page.locator("#chart .u-legend", { hasText: "deny:source" }).waitFor({ timeout: 2000 });
    expect(await page.locator("#chart canvas").count()).toBe(1);
    expect(await page.locator("#decisions-missing").textContent()).toMatch(/source, principal and port/);

    // Learning: an admitted connection, observed and reported; its proposal and what-if on the page,
    // the proposal exactly what `picoseg learn` prints for the same observations and options.
    await exchange(listenPort, "127.0.0.2", "GET / HTTP/1.1\r\nHost: card-db\r\n\r\n");
    // First at the server (the filter's report channel), then on the page (which reloads
    // proposals every few refreshes): a failure says which of the two did not happen.
    await waitFor(
      "the server to store the observed connection from 127.0.0.2",
      async () => {
        const res = await fetch(`${fx!.server.httpUrl}/observations?workload=shop/card-db`, { headers: { authorization: `Bearer ${TOKEN}` } });
        return (await res.text()).includes('"127.0.0.2"') ? true : undefined;
      },
      10_000,
      200,
    );
    const proposal = page.locator('#proposals [data-workload="shop/card-db"]');
    await proposal.locator("pre.proposal", { hasText: '"127.0.0.2/32"' }).waitFor({ timeout: 15_000 });
    const shown = (await proposal.locator("pre.proposal").textContent())!;
    expect(shown).toMatch(/ipBlocks:.*\n\s+- "127\.0\.0\.2\/32"\s+# 1 connections/);
    expect(shown).toMatch(/protocols: \[http1\]/);
    const learned = await picoseg("learn", "--server", fx.server.httpUrl, "--token-file", tokenFile, "--workload", "shop/card-db");
    const body = (yaml: string): string => yaml.slice(yaml.indexOf("apiVersion:"));
    expect(body(shown)).toBe(body(learned.stdout));
    const cell = (row: string, col: "proposal" | "in-force") => proposal.locator(`table.whatif tr[${row}] td.${col}`).textContent();
    expect(await cell('data-row="clean"', "proposal")).toBe("1");
    expect(await cell('data-row="clean"', "in-force")).toBe("1");
    expect(await proposal.locator("table.whatif tr[data-reason]").count()).toBe(0);

    // Today's policy tightened: the page's what-if of the segments in force now denies the
    // observed source, while the proposal still admits it.
    await fx.write("card-db.yaml", segmentYaml("card-db", listenPort, false));
    await fx.write("extra.yaml", segmentYaml("card-db-extra", listenPort, false));
    await expect.poll(() => cell('data-reason="source"', "in-force"), { timeout: 15_000 }).toBe("1");
    expect(await cell('data-reason="source"', "proposal")).toBe("0");
    expect(await cell('data-row="clean"', "in-force")).toBe("0");
    expect(await proposal.locator('.by-source li[data-source="127.0.0.2"]').textContent()).toBe("127.0.0.2: source 1");

    const shot = path.join(tmp, "console.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
    // PICOSEG_CONSOLE_SCREENSHOT=docs/console.png refreshes the README's picture from this run.
    const keep = process.env["PICOSEG_CONSOLE_SCREENSHOT"];
    if (keep) await page.screenshot({ path: path.resolve(ROOT, keep), fullPage: false });
    expect(errors).toEqual([]);
  });
});
