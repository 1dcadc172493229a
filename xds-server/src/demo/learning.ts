// The demo's learning chapter: a workload with no segment yet (shop/inventory) is put in learning
// mode, its normal traffic runs and is reported by its sidecar, `picoseg learn` proposes a
// segment, `picoseg what-if` replays the traffic — zero would-deny for the normal clients, a deny
// for an intruder injected afterwards — and the proposal goes in force in enforce mode: the
// intruder is closed, the normal clients still pass.
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { proposeSegment, learningSegment, trafficOf, whatIf, whatIfText } from "../learn/index.js";
import { validatePolicyText } from "../policy/index.js";
import type { RunningXdsServer } from "../server/index.js";
import { waitFor } from "../util/index.js";
import { PICOSEG_ECDS_RESOURCE } from "../../../api/resources.js";
import { runStep, type Row, type Step, type StepEnv } from "./scenario.js";
import { renderTable } from "./table.js";
import { ID } from "./topology.js";

export const LEARNING_WORKLOAD = "shop/inventory";
const LEARN_FILE = "inventory-learn.yaml";
const ENFORCE_FILE = "inventory.yaml";

/** The segment that turns learning on: audit (never closes), admits anyone, sniffs every protocol. */
const LEARNING_SEGMENT = learningSegment({ name: "inventory-learn", namespace: "shop", app: "inventory" });

const httpGet = (path: string): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: inventory\r\nUser-Agent: picoseg-demo\r\n\r\n`);
const HTTP_REPLY = (b: Buffer): boolean => {
  const text = b.toString("latin1");
  const head = text.indexOf("\r\n\r\n");
  const m = /content-length: (\d+)/i.exec(text);
  return head >= 0 && m !== null && text.length >= head + 4 + Number(m[1]);
};

function get(label: string, client: string, path: string, expect: Step["expect"]): Step {
  return { label, client, target: "inventory", sent: `GET ${path}`, payload: httpGet(path), reply: HTTP_REPLY, expect };
}

const allowed: Step["expect"] = () => ({ outcome: "allowed" });
const HOUR_MS = 3_600_000;

/** The normal traffic the proposal is learned from: cart and checkout reading stock levels. */
function normalSteps(): Step[] {
  return [
    get("L1", ID.cart, "/stock/42", allowed),
    get("L2", ID.cart, "/stock/7", allowed),
    get("L3", ID.checkout, "/stock/42", allowed),
    get("L4", ID.cart, "/stock/9", allowed),
    get("L5", ID.checkout, "/stock/7", allowed),
  ];
}

export interface LearningEnv {
  server: RunningXdsServer;
  /** The demo's copy of the policies, which the server watches. */
  policies: string;
  steps: StepEnv;
  out(text: string): void;
}

/** Waits until the inventory sidecar ACKed a config made of exactly `segments`; its version. */
function inForce(server: RunningXdsServer, nodeId: string, segments: string[]): Promise<string> {
  return waitFor(`the inventory sidecar to ACK a config of ${segments.join(", ") || "no segment"}`, () => {
    const p = server.status().proxies.find((x) => x.nodeId === nodeId);
    const r = p?.resources.find((x) => x.name === PICOSEG_ECDS_RESOURCE);
    const done = p && r && r.acked !== undefined && r.acked === r.current && p.segments.join(",") === segments.join(",");
    return done ? r.acked : undefined;
  }, 10_000);
}

/** Runs the chapter; its rows (judged like the scenario's) and any problem. */
export async function runLearning(env: LearningEnv): Promise<{ rows: Row[]; problems: string[] }> {
  const { server, out } = env;
  const rows: Row[] = [];
  const problems: string[] = [];
  const write = (file: string, text: string): void => {
    const tmp = join(env.policies, `.${file}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(env.policies, file));
  };
  const reported = (since: number): number =>
    server.observations.query(LEARNING_WORKLOAD, since).flatMap((r) => r.report.conns).reduce((a, c) => a + c.n, 0);

  const nodeId = env.steps.sidecar("inventory").nodeId;
  write(LEARN_FILE, LEARNING_SEGMENT);
  let version = await inForce(server, nodeId, ["shop/inventory-learn"]);
  const since = Date.now();
  out(`   ${LEARN_FILE}: segment shop/inventory-learn, mode audit, learn: true — the sidecar observes and reports (ACKed ${version.slice(0, 12)})`);
  out("");
  const normal: Row[] = [];
  for (const step of normalSteps()) normal.push(await runStep(step, env.steps));
  rows.push(...normal);
  out(renderTable(normal));
  await waitFor("the inventory sidecar's report", () => (reported(since) >= normal.length ? true : undefined), 15_000);

  const learnedUntil = Date.now();
  const proposal = proposeSegment(trafficOf(server.observations.query(LEARNING_WORKLOAD, since)), {
    workload: LEARNING_WORKLOAD,
    margin: 2,
    timezone: "UTC",
  });
  out("");
  out(`   picoseg learn --server ${server.httpUrl} --workload ${LEARNING_WORKLOAD} --margin 2 proposes:`);
  out("");
  for (const line of proposal.trimEnd().split("\n")) out(`     ${line}`);
  const checked = validatePolicyText(proposal, "proposal.yaml");
  if (checked.errors.length > 0) problems.push(`the proposal does not validate: ${checked.errors.map((e) => e.message).join("; ")}`);

  // An intruder shows up while the workload is still only observed: audit, so it gets through.
  out("");
  const intruding = await runStep(get("L6", ID.intruder, "/stock/42", allowed), env.steps);
  rows.push(intruding);
  out(renderTable([intruding]));
  await waitFor("the intruder's connection reported", () => (reported(since) >= normal.length + 1 ? true : undefined), 15_000);

  const result = whatIf(trafficOf(server.observations.query(LEARNING_WORKLOAD, since)), checked.segments, LEARNING_WORKLOAD);
  out("");
  out(`   picoseg what-if --policies <the proposal> --workload ${LEARNING_WORKLOAD}:`);
  for (const line of whatIfText(result).trimEnd().split("\n")) out(`     ${line}`);
  const intruderDenied = result.bySource[ID.intruder]?.source?.lo === 1;
  const normalClean = result.clean.lo === normal.length && result.clean.hi === normal.length;
  if (!intruderDenied || !normalClean) problems.push(`what-if: expected ${normal.length} clean connections and the intruder denied by source, got ${JSON.stringify(result.byReason)}`);

  // Roll-out: the proposal in enforce mode replaces the learning segment.
  write(ENFORCE_FILE, proposal.replace(/^ {2}mode: audit\b.*$/m, "  mode: enforce"));
  rmSync(join(env.policies, LEARN_FILE));
  version = await inForce(server, nodeId, ["shop/inventory-learned"]);
  out("");
  out(`   ${ENFORCE_FILE}: the proposal with mode: enforce replaces the learning segment (ACKed ${version.slice(0, 12)})`);
  out("");
  const enforced: Row[] = [];
  // The proposal's schedule is the whole UTC hours the traffic was seen in: a run that crosses
  // into the next hour before L7 sees it closed by that schedule, as it should be.
  const inLearnedHours: Step["expect"] = (now) =>
    Math.floor(now.getTime() / HOUR_MS) <= Math.floor(learnedUntil / HOUR_MS) ? { outcome: "allowed" } : { outcome: "closed", reason: "schedule" };
  enforced.push(await runStep(get("L7", ID.cart, "/stock/42", inLearnedHours), env.steps));
  enforced.push(await runStep(get("L8", ID.intruder, "/stock/42", () => ({ outcome: "closed", reason: "source" })), env.steps));
  rows.push(...enforced);
  out(renderTable(enforced));
  return { rows, problems };
}
