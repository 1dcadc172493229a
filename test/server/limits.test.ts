// What one policy file may cost: its size, its documents, a segment's rules, a workload's compiled
// config. Each bound is a refusal naming the file; and loading a large file never stalls the
// event loop that answers health checks and proxies.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { validatePolicyText } from "../../xds-server/src/policy/index.js";
import { MAX_FILE_BYTES } from "../../xds-server/src/policy/limits.js";
import { eventually, SotwEnvoy, sotwConfigs } from "../../testkit/xds/fake-envoy.js";
import { perTestServer, segment } from "../../testkit/xds/server-fixture.js";

const srv = perTestServer();

/** Polls the URL in a loop until its stdin closes, then prints the slowest answer (ms) and the count. */
const POLLER = `
const url = process.argv[1];
let stop = false, polls = 0;
const times = [];
process.stdin.on("end", () => { stop = true; });
process.stdin.resume();
(async () => {
  await fetch(url).then((r) => r.text());
  console.log("started");
  while (!stop) {
    const t = performance.now();
    await fetch(url).then((r) => r.text());
    times.push(performance.now() - t);
    polls++;
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ worst: times[times.length - 1] ?? 0, p99: times[Math.floor(times.length * 0.99)] ?? 0, polls }));
})();
`;

const docs = (n: number, from = 0): string =>
  Array.from({ length: n }, (_, i) => segment(`s${from + i}`, `a${from + i}`, 1000 + ((from + i) % 60000))).join("---\n");

describe("policy limits", () => {
  it("refuses a file over 1 MiB as a whole, naming it", () => {
    const text = `# ${"x".repeat(MAX_FILE_BYTES)}\n${segment("db", "db", 5432)}`;
    const r = validatePolicyText(text, "policies/huge.yaml");
    expect(r.segments).toEqual([]);
    expect(r.errors).toEqual([{ file: "policies/huge.yaml", line: 1, field: "", message: expect.stringMatching(/^file is 1\.0 MiB; a policy file may be at most 1\.0 MiB/) }]);
  });

  it("refuses a file with more than 1000 documents", () => {
    const r = validatePolicyText(docs(1001), "many.yaml");
    expect(r.segments).toEqual([]);
    expect(r.errors.map((e) => `${e.file}:${e.line}: ${e.message}`)).toEqual(["many.yaml:1: 1001 documents; a policy file may hold at most 1000 (split it into several files)"]);
  });

  it("refuses a segment with more than 1000 rules, at its rules", () => {
    const rules = Array.from({ length: 1001 }, (_, i) => `    - name: r${i}\n`).join("");
    const text = `apiVersion: picoseg.io/v1alpha1\nkind: PicoSegment\nmetadata: { name: db, namespace: shop }\nspec:\n  rules:\n${rules}`;
    const r = validatePolicyText(text, "rules.yaml");
    expect(r.errors.map((e) => `${e.file}:${e.line}: ${e.field}: ${e.message}`)).toEqual(["rules.yaml:5: spec.rules: 1001 rules; a segment may have at most 1000"]);
  });

  it("the directory source refuses an oversized file unread, naming it, and keeps serving the rest", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    await fx.write("huge.yaml", `# ${"x".repeat(MAX_FILE_BYTES + 10)}\n`);
    await eventually(() => fx.server.status().refusals.length === 1, 5000, "the refusal");
    expect(fx.server.status().refusals[0]!.text).toMatch(/huge\.yaml:1: file is 1\.0 MiB; a policy file may be at most 1\.0 MiB/);
    expect(fx.server.status().segments).toEqual(["shop/db"]);
  });

  it("does not serve a compiled config over the limit: the proxy keeps its config, status and the log name the files", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) }, { maxConfigBytes: 2000 });
    const e = new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    srv.track(e);
    e.subscribe(["picoseg"]);
    const first = await e.inbox.next();
    e.ack(first, ["picoseg"]);
    const many = Array.from({ length: 60 }, (_, i) => `    - name: rule-number-${i}\n      ports: [${5000 + i}]\n`).join("");
    await fx.write("big.yaml", `apiVersion: picoseg.io/v1alpha1\nkind: PicoSegment\nmetadata: { name: big, namespace: shop }\nspec:\n  selector: { matchLabels: { app: db } }\n  rules:\n${many}`);
    await eventually(() => fx.server.status().proxies[0]?.error !== undefined, 5000, "the error");
    expect(fx.server.status().proxies[0]!.error).toMatch(/^compiled config is \d+ KiB, more than 2 KiB: segments shop\/big, shop\/db from .*big\.yaml, .*db\.yaml; previous config kept$/);
    expect(fx.logs.some((l) => /proxy db-1: compiled config is/.test(l))).toBe(true);
    expect(await e.inbox.nothingWithin(300)).toBe(true);
    expect(sotwConfigs(first)[0]!.configuration).not.toContain("shop/big");
  });

  it("answers /healthz within 100 ms while it loads a large policy file", async () => {
    const fx = await srv.start({ "db.yaml": segment("db", "db", 5432) });
    // 1000 documents of five rules each (~800 KiB): parsing them takes the better part of a second.
    const rules = (i: number): string =>
      Array.from({ length: 5 }, (_, k) => `    - name: r${k}\n      from: { ipBlocks: ["10.${k}.0.0/16"] }\n      ports: [${1000 + i}, "${2000 + k}-${2100 + k}"]\n      limits: { maxBytesIn: 10Mi }\n`).join("");
    const n = 1000;
    const text = Array.from({ length: n }, (_, i) =>
      `apiVersion: picoseg.io/v1alpha1\nkind: PicoSegment\nmetadata: { name: s${i}, namespace: shop }\nspec:\n  selector: { matchLabels: { app: a${i} } }\n  rules:\n${rules(i)}`).join("---\n");
    expect(Buffer.byteLength(text)).toBeGreaterThan(600_000);
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_FILE_BYTES);
    await fx.write("big.yaml", text);
    // Polled from another process, as a kubelet would: always one request in flight, so a stall of
    // the server's event loop shows as a slow answer.
    const poller = spawn(process.execPath, ["-e", POLLER, `${fx.server.httpUrl}/healthz`], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    poller.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes("started"), 5000, "the poller");
    await fx.write("big.yaml", text);
    await eventually(() => fx.server.status().segments.includes(`shop/s${n - 1}`), 20_000, "the large file to load");
    poller.stdin.end();
    await once(poller, "exit");
    const { worst, p99, polls } = JSON.parse(out.slice(out.indexOf("{"))) as { worst: number; p99: number; polls: number };
    // Validating in the event loop stalls it for the whole parse (about 700 ms here: 2 polls in
    // all). Off the loop, answers stay under 100 ms; the machine running CI is shared, so one
    // answer in a hundred may wait for a core, but none waits for the parse.
    expect(polls).toBeGreaterThan(100);
    expect(p99, `99th percentile ${p99.toFixed(0)} ms over ${polls} polls`).toBeLessThan(100);
    expect(worst, `slowest answer ${worst.toFixed(0)} ms`).toBeLessThan(300);
  });
});
