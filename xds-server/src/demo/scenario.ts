// The scripted traffic: each step opens a real mTLS connection as one mesh identity (or reuses a
// live one), sends real protocol bytes, and records what happened — did the reply come back, did
// the sidecar close the connection, and which decision the filter logged for that connection.
// Expectations are the scenario's own reading of policies/*.yaml, written next to each step.
import { respCommand } from "./services.js";
import { pgQuery } from "./pg-session.js";
import { DemoConnection, type ClientIdentity } from "./client.js";
import { PAYMENTS_API_WINDOW, insideWindows, localTime } from "./schedule.js";
import type { Sidecar } from "./sidecars.js";
import type { Decision } from "../../../api/decision.js";
import { ID, shortIdentity } from "./topology.js";
import { sleep } from "../util/index.js";
import { type Reason } from "../../../api/decision.js";

export type Outcome = "allowed" | "closed";

export interface Expectation {
  outcome: Outcome;
  /** closed: the deny reason; allowed: the reason an audit segment would deny for (if any). */
  reason?: Reason;
  /** Why this is expected now (schedule-dependent rows). */
  note?: string;
}

export interface Step {
  label: string;
  /** The client's SPIFFE principal. */
  client: string;
  /** Sidecar name (topology.ts). */
  target: string;
  /** Destination port; default the sidecar's main port. */
  port?: number;
  /** What is sent, for the table. */
  sent: string;
  payload?: Buffer;
  /** True once a complete answer arrived (none: no answer is awaited). */
  reply?: (received: Buffer) => boolean;
  expect: (now: Date) => Expectation;
  /** Keep the connection open under this name (for the hot change). */
  keepAs?: string;
  /** Instead of payload and reply: an exchange of a real client library over the connection; true when it got its answer. */
  session?: (conn: DemoConnection) => Promise<boolean>;
  /** Reuse a connection kept by an earlier step instead of opening one. */
  reuse?: string;
  /** How long to wait for the reply (ms). */
  replyTimeoutMs?: number;
}

export interface Row {
  label: string;
  client: string;
  target: string;
  sent: string;
  decision: string;
  reason: string;
  expected: string;
  ok: boolean;
  note?: string;
}

// ---- payloads ----

const RESP_OK = (b: Buffer): boolean => /^[+:$\-]/.test(b.toString("latin1")) && b.includes("\r\n");
/** node-postgres reads account 42's balance: StartupMessage, then the extended query protocol. */
const pgBalance = async (conn: DemoConnection): Promise<boolean> =>
  (await pgQuery(conn, "payments", "SELECT balance FROM accounts WHERE id = $1", [42])).row?.["balance"] === "1234.50";
/** A 2 MiB parameter: one Bind message over the rule's 1 MiB maxMessageBytes under framing postgres. */
const pgHugeParameter = async (conn: DemoConnection): Promise<boolean> =>
  (await pgQuery(conn, "payments", "SELECT length($1::text) AS n", ["x".repeat(2 * 1024 * 1024)])).row !== undefined;
const HTTP_REPLY = (b: Buffer): boolean => {
  const text = b.toString("latin1");
  const head = text.indexOf("\r\n\r\n");
  const m = /content-length: (\d+)/i.exec(text);
  return head >= 0 && m !== null && text.length >= head + 4 + Number(m[1]);
};
const httpGet = (host: string, path: string): Buffer =>
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: picoseg-demo\r\n\r\n`);
const httpPost = (host: string, path: string, size: number): Buffer =>
  Buffer.concat([
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`),
    Buffer.alloc(size, 0x61),
  ]);

// ---- expectations ----

const allowed = (reason?: Reason): Expectation => ({ outcome: "allowed", ...(reason ? { reason } : {}) });
const closed = (reason: Reason): Expectation => ({ outcome: "closed", reason });

/** payments-db api-to-db admits only inside Berlin office hours; outside, the connection gets `schedule`. */
function inOfficeHours(now: Date, inside: Expectation): Expectation {
  const t = localTime(now, PAYMENTS_API_WINDOW.timeZone);
  const open = insideWindows(now, PAYMENTS_API_WINDOW.timeZone, PAYMENTS_API_WINDOW.windows);
  return open
    ? { ...inside, note: `schedule: ${t.text} is inside Mon–Fri 07:00–20:00` }
    : { ...closed("schedule"), note: `schedule: ${t.text} is outside Mon–Fri 07:00–20:00 (in hours: ${describe(inside)})` };
}

export function describe(e: Expectation): string {
  if (e.outcome === "closed") return `closed: ${e.reason ?? "?"}`;
  return e.reason ? `open, audit: ${e.reason}` : "allowed";
}

/** The scenario before the hot change. */
export function initialSteps(): Step[] {
  return [
    // shop/cart-cache: only cart and checkout, only RESP, only 6379.
    { label: "1", client: ID.cart, target: "cart-cache", sent: "PING", payload: respCommand("PING"), reply: RESP_OK, expect: () => allowed(), keepAs: "cart" },
    { label: "2", client: ID.checkout, target: "cart-cache", sent: "SET cart:42 …", payload: respCommand("SET", "cart:42", '{"items":3}'), reply: RESP_OK, expect: () => allowed(), keepAs: "checkout" },
    { label: "3", client: ID.intruder, target: "cart-cache", sent: "GET cart:42", payload: respCommand("GET", "cart:42"), reply: RESP_OK, expect: () => closed("source") },
    { label: "4", client: ID.cart, target: "cart-cache", sent: "HTTP GET / (not RESP)", payload: httpGet("cart-cache", "/"), reply: HTTP_REPLY, expect: () => closed("protocol") },
    { label: "5", client: ID.checkout, target: "cart-cache", port: 16379, sent: "PING on :16379", payload: respCommand("PING"), reply: RESP_OK, expect: () => closed("port") },
    // payments/payments-db: payments-api, Postgres, Berlin office hours.
    { label: "6", client: ID.paymentsApi, target: "payments-db", sent: "pg: SELECT balance", session: pgBalance, expect: (now) => inOfficeHours(now, allowed()) },
    { label: "6b", client: ID.paymentsApi, target: "payments-db", sent: "pg: 2 MiB parameter", session: pgHugeParameter, expect: (now) => inOfficeHours(now, closed("message-size")) },
    { label: "7", client: ID.cart, target: "payments-db", sent: "pg: SELECT balance", session: pgBalance, expect: () => closed("source") },
    { label: "8", client: ID.paymentsApi, target: "payments-db", sent: "HTTP GET / (not Postgres)", payload: httpGet("payments-db", "/"), reply: HTTP_REPLY, expect: (now) => inOfficeHours(now, closed("protocol")) },
    // analytics/reporting-api in audit mode: decided and logged, never closed.
    { label: "9", client: ID.dashboard, target: "reporting-api", sent: "GET /reports", payload: httpGet("reporting-api", "/reports"), reply: HTTP_REPLY, expect: () => allowed() },
    { label: "10", client: ID.intruder, target: "reporting-api", sent: "GET /reports", payload: httpGet("reporting-api", "/reports"), reply: HTTP_REPLY, expect: () => allowed("source") },
    { label: "11", client: ID.dashboard, target: "reporting-api", sent: "POST 1.5 MiB (limit 1 MiB)", payload: httpPost("reporting-api", "/upload", 1.5 * 1024 * 1024), reply: HTTP_REPLY, expect: () => allowed("bytes-in"), replyTimeoutMs: 8000 },
    // The canary pod's annotations tighten the same segment: enforce, 8 KiB per read.
    { label: "12", client: ID.dashboard, target: "reporting-canary", sent: "GET /reports", payload: httpGet("reporting-api", "/reports"), reply: HTTP_REPLY, expect: () => allowed() },
    { label: "13", client: ID.intruder, target: "reporting-canary", sent: "GET /reports", payload: httpGet("reporting-api", "/reports"), reply: HTTP_REPLY, expect: () => closed("source") },
    { label: "14", client: ID.dashboard, target: "reporting-canary", sent: "POST 64 KiB, 1 write", payload: httpPost("reporting-api", "/upload", 64 * 1024), reply: HTTP_REPLY, expect: () => closed("message-size") },
  ];
}

/** What the hot change does to shop-cache.yaml: checkout is no longer a client of the cache. */
export const HOT_CHANGE = {
  file: "shop-cache.yaml",
  description: "remove spiffe://cluster.local/ns/shop/sa/checkout from segment shop/cart-cache",
  apply(text: string): string {
    const out = text
      .split("\n")
      .filter((line) => !/^\s*-\s*spiffe:\/\/cluster\.local\/ns\/shop\/sa\/checkout\s*$/.test(line))
      .join("\n");
    if (out === text) throw new Error(`hot change: no checkout principal line in ${HOT_CHANGE.file}`);
    return out;
  },
};

/** The scenario after the hot change (the sidecar has ACKed the new version). */
export function afterChangeSteps(): Step[] {
  return [
    { label: "15", client: ID.checkout, target: "cart-cache", reuse: "checkout", sent: "(live since step 2)", expect: () => closed("revoked"), replyTimeoutMs: 2500 },
    { label: "16", client: ID.cart, target: "cart-cache", reuse: "cart", sent: "PING (live since step 1)", payload: respCommand("PING"), reply: RESP_OK, expect: () => allowed() },
    { label: "17", client: ID.checkout, target: "cart-cache", sent: "PING (new connection)", payload: respCommand("PING"), reply: RESP_OK, expect: () => closed("source") },
  ];
}

// ---- running a step ----

export interface StepEnv {
  sidecar(name: string): Sidecar;
  identity(principal: string): ClientIdentity;
  kept: Map<string, DemoConnection>;
}

/** Runs one step against the real sidecar and judges it. */
export async function runStep(step: Step, env: StepEnv): Promise<Row> {
  const sc = env.sidecar(step.target);
  const port = step.port ?? sc.spec.listen.port;
  const exp = step.expect(new Date());
  let conn: DemoConnection;
  if (step.reuse !== undefined) {
    const kept = env.kept.get(step.reuse);
    if (!kept) {
      // The earlier step's connection did not survive: this row cannot be shown, and says why.
      return {
        label: step.label,
        client: shortIdentity(step.client),
        target: `${step.target} ${sc.spec.listen.host}:${port}`,
        sent: step.sent,
        decision: "-",
        reason: `(${step.reuse}'s connection from an earlier step was not left open)`,
        expected: describe(exp),
        ok: false,
        ...(exp.note ? { note: exp.note } : {}),
      };
    }
    conn = kept;
    // Its lines are picked by its own source address:port, whenever they were logged: the hot change
    // may revoke it (and the filter log it) before this step starts.
  } else {
    conn = await DemoConnection.open({ host: sc.spec.listen.host, port }, env.identity(step.client));
  }
  const before = conn.received().length;
  let replied = false;
  if (conn.isOpen() && step.session) replied = await step.session(conn);
  else if (conn.isOpen() && step.payload) await conn.write(step.payload);
  if (conn.isOpen() && !step.session) {
    const reply = step.reply ?? ((): boolean => false);
    replied = await conn.waitForReply((b) => reply(b.subarray(before)), step.replyTimeoutMs ?? 3000);
  }
  // A deny may land just after the reply started: watch a little longer before calling it open.
  if (conn.isOpen()) await conn.waitForEnd(300);
  // The filter's decision line for this connection (deny and audit at warning, allow at debug).
  const wanted = (ds: Decision[]): boolean =>
    step.reuse !== undefined && conn.isOpen()
      ? true
      : conn.isOpen()
      ? ds.some((d) => d.picoseg === "allow" || d.picoseg === "audit") && (!exp.reason || exp.outcome === "closed" || ds.some((d) => d.picoseg === "audit"))
      : ds.some((d) => d.picoseg === "deny");
  const deadline = Date.now() + 1500;
  let lines = sc.decisionsFor(conn.source);
  while (!wanted(lines) && Date.now() < deadline) {
    await sleep(25);
    lines = sc.decisionsFor(conn.source);
  }
  const denies = lines.filter((d) => d.picoseg === "deny");
  const audits = lines.filter((d) => d.picoseg === "audit");
  const allows = lines.filter((d) => d.picoseg === "allow");

  const open = conn.isOpen();
  const decision = open ? (replied ? "allowed" : "open, no reply") : `closed`;
  const reasonParts: string[] = [];
  if (denies[0]) reasonParts.push(denies[0].reason);
  for (const a of audits) reasonParts.push(`audit: ${a.reason}`); // would deny, as the expectation says
  if (!denies[0] && allows[0]) reasonParts.unshift(`rule ${allows[0].rule}`);
  if (reasonParts.length === 0 && step.reuse !== undefined && open) reasonParts.push("still admitted");
  if (reasonParts.length === 0) reasonParts.push(open ? "(no decision line)" : `(no decision line; ${conn.ended ?? "closed"}${conn.error ? " " + conn.error : ""})`);

  let ok: boolean;
  if (exp.outcome === "allowed") {
    ok = open && replied && denies.length === 0 && (exp.reason ? audits.some((a) => a.reason === exp.reason) : audits.length === 0);
  } else {
    ok = !open && denies.some((d) => d.reason === exp.reason);
  }

  if (step.keepAs !== undefined && open) env.kept.set(step.keepAs, conn);
  else if (step.keepAs === undefined && step.reuse === undefined) conn.destroy();

  return {
    label: step.label,
    client: shortIdentity(step.client),
    target: `${step.target} ${sc.spec.listen.host}:${port}`,
    sent: step.sent,
    decision,
    reason: [...new Set(reasonParts)].join(", "),
    expected: describe(exp),
    ok,
    ...(exp.note ? { note: exp.note } : {}),
  };
}
