// `picoseg serve --audit-log` as an operator runs it, twice over one trail, then
// `picoseg audit verify` on the trail as written and after an edit.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { DeltaEnvoy, eventually } from "../../testkit/xds/fake-envoy.js";
import { segment } from "../../testkit/xds/server-fixture.js";
import { PICOSEG_CLI, ServeCommand } from "../../testkit/cli/index.js";

const run = promisify(execFile);
const cli = PICOSEG_CLI;

let serve: ServeCommand | undefined;
let dir = "";
const clients: DeltaEnvoy[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await serve?.stop("SIGKILL");
  serve = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startServe(policies: string, log: string): Promise<ServeCommand> {
  serve = await ServeCommand.start(["--policies", policies, "--xds-port", "0", "--http-port", "0", "--drain-seconds", "0", "--audit-log", log]);
  return serve;
}

interface Entry { seq: number; kind: string; data: Record<string, unknown> }
const entries = async (f: string): Promise<Entry[]> =>
  (await readFile(f, "utf8")).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Entry);

describe("picoseg serve --audit-log and picoseg audit verify", () => {
  it("records policy states, refusals, versions sent and ACKed across a restart; verify passes, then names an edited entry", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "picoseg-audit-e2e-"));
    const policies = path.join(dir, "policies");
    const log = path.join(dir, "audit.jsonl");
    await (await import("node:fs/promises")).mkdir(policies);
    await writeFile(path.join(policies, "db.yaml"), segment("db", "db", 5432));

    let s = await startServe(policies, log);
    const e = new DeltaEnvoy(s.xds, "ecds", { id: "db-1", namespace: "shop", labels: { app: "db" } });
    clients.push(e);
    e.subscribe(["picoseg"]);
    e.ack(await e.inbox.next());
    // An edit (served and ACKed), then a bad file (refused).
    const tmp = path.join(policies, ".db.yaml.tmp");
    await writeFile(tmp, segment("db", "db", 6432));
    await rename(tmp, path.join(policies, "db.yaml"));
    e.ack(await e.inbox.next());
    await writeFile(path.join(policies, "bad.yaml"), segment("bad", "bad", 1).replace("ports:", "portz:"));
    await eventually(async () => (await entries(log)).some((x) => x.kind === "policy.refused"), 10_000, "the refusal in the trail");
    await eventually(async () => (await entries(log)).filter((x) => x.kind === "xds.ack").length === 2, 5000, "two ACKs in the trail");
    e.close();
    expect(await s.stop()).toBe(0);

    s = await startServe(policies, log);
    expect(await s.stop()).toBe(0);

    const all = await entries(log);
    expect(all.map((x) => x.seq)).toEqual(all.map((_, i) => i));
    const kinds = all.map((x) => x.kind);
    expect(kinds[0]).toBe("server.start");
    expect(kinds.filter((k) => k === "server.start")).toHaveLength(2);
    const accepted = all.filter((x) => x.kind === "policy.accepted");
    expect(accepted[0]!.data).toMatchObject({ diff: { added: ["shop/db"], changed: [], removed: [] } });
    expect(accepted[0]!.data["hash"]).toMatch(/^[0-9a-f]{64}$/);
    expect(accepted[1]!.data).toMatchObject({ diff: { added: [], changed: ["shop/db"], removed: [] } });
    expect(accepted[1]!.data["hash"]).not.toBe(accepted[0]!.data["hash"]);
    const refused = all.find((x) => x.kind === "policy.refused")!;
    expect(refused.data).toMatchObject({ source: path.join(policies, "bad.yaml") });
    expect(refused.data["error"]).toMatch(/bad\.yaml:\d+: /);
    expect(refused.data["contentHash"]).toMatch(/^[0-9a-f]{64}$/);
    const sent = all.filter((x) => x.kind === "xds.sent");
    const acks = all.filter((x) => x.kind === "xds.ack");
    expect(sent).toHaveLength(2);
    expect(acks.map((a) => a.data["version"])).toEqual(sent.map((x) => x.data["version"]));
    expect(acks[0]!.data).toMatchObject({ node: "db-1", workload: "shop/db" });

    const ok = await run(process.execPath, [...cli, "audit", "verify", log]);
    expect(ok.stdout).toMatch(new RegExp(`^ok: ${all.length} entries in 1 file\\(s\\), chain intact; head [0-9a-f]{64}\\n$`));

    // Someone rewrites the version a proxy ACKed.
    const lines = (await readFile(log, "utf8")).split("\n");
    const i = lines.findIndex((l) => l.includes('"kind":"xds.ack"'));
    lines[i] = lines[i]!.replace(/"version":"[^"]*"/, '"version":"forged"');
    await writeFile(log, lines.join("\n"));
    const bad = await run(process.execPath, [...cli, "audit", "verify", log]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toContain(`${log}:${i + 1}: entry ${i} was altered: its content does not match its hash`);
  }, 60_000);
});
