// What each path of the HTTP side answers (auth.ts says who may ask). The data comes from
// AdminDeps, which the server wires (views.ts builds them from the running parts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { ComplianceRegime } from "../../../api/picosegment.js";
import { WASM_PATH } from "../../../api/resources.js";
import type { ProxyStatus, StatusReport } from "../../../api/status.js";
import { isRegime, type ComplianceReport, type WorkloadReport } from "../compliance/index.js";
import type { DecodedConfig } from "../policy/index.js";
import { LEARN_DEFAULTS, LearnOptionError, parseProposeOptions, parseSince, parseWorkload, type ProposeOptions } from "../learn/index.js";
import type { DecisionSample, ProxyDecisions, ObservationQuery } from "../telemetry/index.js";
import { authorized, forwardedCredential, tokenCookie, tokenMatches, type AdminSecurity } from "./auth.js";
import { CONSOLE_HEADERS, consoleAsset, loginPage } from "./console.js";
import { defined, errorMessage } from "../util/index.js";

export interface AdminDeps {
  /** undefined when ready, else why not (the 503 body). */
  notReady(): string | undefined;
  status(): StatusReport;
  registry: Registry;
  /** The module bytes and their sha256 (hex), or undefined when no module is available. */
  module(): { bytes: Uint8Array; sha256: string } | undefined;
  /** The compliance report (compliance/report.ts), for one regime or all; absent: 404. */
  report?(regime?: ComplianceRegime): ComplianceReport;
  /** The decision counters read from proxies, and their history for the chart; absent: 404. */
  decisions?(): DecisionsView;
  /**
   * Learning mode's reports since a time (ms), of one workload (NS/NAME) or all; `local`: this
   * replica's only, else the peers' too, asked with the caller's `authorization`. Absent: 404.
   */
  observations?(query: ObservationQuery, scope: "local" | "fleet", authorization: string | undefined): Promise<unknown>;
  /** Each observed workload's proposal and what-if (learn/proposals.ts), asked of peers as above; absent: 404. */
  proposals?(query: ProposalsQuery, authorization: string | undefined): Promise<unknown>;
  /** Turns the response into the server-sent events of denied attempts (observe/feed.ts); absent: 404. */
  denialFeed?(res: ServerResponse): void;
  /** `picoseg describe`: the workloads of a pod (its proxies' node ids) or of a name NS/NAME; absent: 404. */
  describe?(target: DescribeTarget): DescribeView;
  /** `picoseg proxy-config`: the configuration one proxy holds, decoded; undefined: no such proxy. */
  proxyConfig?(nodeId: string): ProxyConfigView | undefined;
}

export type DescribeTarget = { pod: string; namespace: string } | { workload: string };

export interface DescribeView {
  controlPlane: string;
  policyRevision: number;
  workloads: WorkloadReport[];
}

export interface ProxyConfigView {
  nodeId: string;
  workload: ProxyStatus["workload"];
  segments: string[];
  resources: ProxyStatus["resources"];
  /** Exactly the string the filter receives (its current one), and the same decoded. */
  config?: string;
  decoded?: DecodedConfig;
  error?: string;
}

export interface ProposalsQuery extends ObservationQuery, Omit<ProposeOptions, "workload"> {
  /** The period as asked (e.g. 24h), shown with the proposals. */
  since: string;
}

export interface DecisionsView {
  intervalMs: number;
  samples: DecisionSample[];
  proxies: ProxyDecisions[];
  /** What the server cannot see, said once where the data is shown. */
  missing: string;
}

/** The sign-in form and its style: nothing about the mesh in them. */
const CONSOLE_PUBLIC = new Set(["/ui/login", "/ui/console.css"]);
/** Paths that show proxies, workloads or policies: behind authentication. */
const PROTECTED = new Set(["/status", "/metrics", "/report", "/decisions", "/decisions/live", "/observations", "/proposals", "/describe", "/proxy-config"]);

/** The form body of POST /ui/login, bounded (a token is short). */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 8192) return undefined;
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

export async function route(req: IncomingMessage, res: ServerResponse, deps: AdminDeps, security: AdminSecurity): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "POST" && url.pathname === "/ui/login") {
    // Changes nothing on the server: checks the token and hands it back as a cookie.
    const token = (await readForm(req))?.get("token") ?? undefined;
    if (!tokenMatches(token, security)) return send(res, 401, "text/html; charset=utf-8", loginPage("wrong token"), CONSOLE_HEADERS);
    res.setHeader("set-cookie", tokenCookie(token!, security));
    res.writeHead(303, { location: "/ui" });
    res.end();
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
  const isConsole = url.pathname === "/ui" || url.pathname.startsWith("/ui/");
  if ((PROTECTED.has(url.pathname) || (isConsole && !CONSOLE_PUBLIC.has(url.pathname))) && !authorized(req, security)) {
    if (url.pathname === "/ui" && security.token !== undefined) {
      res.writeHead(303, { location: "/ui/login" });
      res.end();
      return;
    }
    res.setHeader("www-authenticate", "Bearer");
    return send(res, 401, "text/plain", "needs a bearer token or a client certificate (see --admin-token-file, --client-ca)\n");
  }
  if (url.pathname === "/ui/login") return send(res, 200, "text/html; charset=utf-8", loginPage(), CONSOLE_HEADERS);
  if (isConsole) {
    const asset = consoleAsset(url.pathname);
    return asset ? send(res, 200, asset.type, asset.body, CONSOLE_HEADERS) : send(res, 404, "text/plain", "not found\n");
  }
  switch (url.pathname) {
    case "/report": {
      const regime = url.searchParams.get("compliance") ?? undefined;
      if (regime !== undefined && !isRegime(regime)) return send(res, 400, "text/plain", `compliance: ${JSON.stringify(regime)} is not one of pci-dss, hipaa\n`);
      if (!deps.report) return send(res, 404, "text/plain", "no report here\n");
      return send(res, 200, "application/json", `${JSON.stringify(deps.report(regime), null, 2)}\n`);
    }
    case "/describe": {
      if (!deps.describe) return send(res, 404, "text/plain", "no describe here\n");
      const workload = url.searchParams.get("workload");
      const pod = url.searchParams.get("pod");
      const namespace = url.searchParams.get("namespace");
      const target = workload !== null ? { workload } : pod !== null && namespace !== null ? { pod, namespace } : undefined;
      if (!target) return send(res, 400, "text/plain", "describe: ?workload=NS/NAME or ?pod=NAME&namespace=NS\n");
      return send(res, 200, "application/json", `${JSON.stringify(deps.describe(target), null, 2)}\n`);
    }
    case "/proxy-config": {
      const node = url.searchParams.get("node");
      if (!deps.proxyConfig || node === null) return send(res, 400, "text/plain", "proxy-config: ?node=NODE_ID\n");
      const view = deps.proxyConfig(node);
      if (!view) return send(res, 404, "text/plain", `no proxy ${JSON.stringify(node)} is connected to this server\n`);
      return send(res, 200, "application/json", `${JSON.stringify(view, null, 2)}\n`);
    }
    case "/decisions":
      if (!deps.decisions) return send(res, 404, "text/plain", "no decisions here\n");
      return send(res, 200, "application/json", `${JSON.stringify(deps.decisions())}\n`);
    case "/decisions/live":
      if (!deps.denialFeed) return send(res, 404, "text/plain", "no live feed here\n");
      return deps.denialFeed(res);
    case "/observations": {
      if (!deps.observations) return send(res, 404, "text/plain", "no observations here\n");
      const workload = url.searchParams.get("workload") ?? undefined;
      try {
        if (workload !== undefined) parseWorkload(workload, (o) => o);
      } catch (err) {
        return send(res, 400, "text/plain", `${optionMessage(err)}\n`);
      }
      const since = Number(url.searchParams.get("since") ?? "0");
      if (!Number.isFinite(since) || since < 0) return send(res, 400, "text/plain", "since: expected ms since the Unix epoch\n");
      const scope = url.searchParams.get("scope") ?? "fleet";
      if (scope !== "local" && scope !== "fleet") return send(res, 400, "text/plain", "scope: expected local or fleet\n");
      const body = await deps.observations({ ...defined({ workload }), sinceMs: since }, scope, forwardedCredential(req));
      return send(res, 200, "application/json", `${JSON.stringify(body)}\n`);
    }
    case "/proposals": {
      if (!deps.proposals) return sendJson(res, 404, { error: "no learning mode here" });
      let query: ProposalsQuery;
      try {
        query = proposalsQuery(url.searchParams);
      } catch (err) {
        return sendJson(res, 400, { error: optionMessage(err) });
      }
      try {
        return sendJson(res, 200, await deps.proposals(query, forwardedCredential(req)));
      } catch (err) {
        return sendJson(res, 500, { error: errorMessage(err) });
      }
    }
    case "/healthz":
      return send(res, 200, "text/plain", "ok\n");
    case "/readyz": {
      const why = deps.notReady();
      return why === undefined ? send(res, 200, "text/plain", "ready\n") : send(res, 503, "text/plain", `${why}\n`);
    }
    case "/metrics":
      return send(res, 200, deps.registry.contentType, await deps.registry.metrics());
    case "/status":
      return send(res, 200, "application/json", `${JSON.stringify(deps.status(), null, 2)}\n`);
    case WASM_PATH: {
      const m = deps.module();
      return m ? send(res, 200, "application/wasm", m.bytes) : send(res, 404, "text/plain", "no filter module\n");
    }
    case `${WASM_PATH}.sha256`: {
      const m = deps.module();
      return m ? send(res, 200, "text/plain", `${m.sha256}\n`) : send(res, 404, "text/plain", "no filter module\n");
    }
    default:
      return send(res, 404, "text/plain", "not found\n");
  }
}

/** /proposals' query: the options of `picoseg learn`, by the same parser and with the same defaults. */
function proposalsQuery(params: URLSearchParams): ProposalsQuery {
  const field = (option: string): string => option;
  const workload = params.get("workload");
  const since = params.get("since") ?? LEARN_DEFAULTS.since;
  return {
    ...(workload !== null ? { workload: parseWorkload(workload, field) } : {}),
    since,
    sinceMs: parseSince(since, field),
    ...parseProposeOptions({ margin: params.get("margin") ?? LEARN_DEFAULTS.margin, timezone: params.get("timezone") ?? LEARN_DEFAULTS.timezone }, field),
  };
}

/** The message of a bad option (a 400); any other error is thrown on (a 500). */
function optionMessage(err: unknown): string {
  if (err instanceof LearnOptionError) return err.message;
  throw err;
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  send(res, code, "application/json", `${JSON.stringify(body)}\n`);
}

export function send(res: ServerResponse, code: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(code, { ...headers, "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}
