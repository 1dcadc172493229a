// Observations across replicas. A replica stores only the reports of the proxies whose xDS stream
// it holds (service.ts), so with several replicas each sees part of the fleet. Given its peers'
// admin URLs (`serve --peers`), a replica asks each for its own reports (`scope=local`), with the
// caller's credential so that each peer checks it itself, merges them with its own and drops a
// report stored twice (store.ts reportKey). A peer that fails or is slow is named, never waited
// for past a bound: the answer is then partial, and says so.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { parseStoredReport, reportKey, type ObservationStore, type StoredReport } from "./store.js";
import { errorMessage } from "../util/index.js";

export interface PeerOptions {
  /** Admin HTTP(S) base URLs of the replicas (this one included is fine: its reports merge away). */
  urls: readonly string[];
  /** How long one peer may take to answer in full. */
  timeoutMs: number;
  /** Trust for HTTPS peers (PEM); default Node's roots. */
  ca?: Buffer;
  /** Largest answer read from one peer. */
  maxBytes?: number;
}

export const DEFAULT_PEER_TIMEOUT_MS = 3000;
const DEFAULT_MAX_ANSWER_BYTES = 256 * 1024 * 1024;

export interface MissingPeer {
  peer: string;
  reason: string;
}

/** Which replicas were asked and which did not answer (the data is partial when any did not). */
export interface PeersView {
  asked: string[];
  missing: MissingPeer[];
}

/** One workload (NS/NAME), or every workload when absent; reports that arrived at or after sinceMs. */
export interface ObservationQuery {
  workload?: string;
  sinceMs: number;
}

/** The /observations path of a query; `local` asks a replica for its own reports only. */
export function observationsPath(q: ObservationQuery, scope?: "local"): string {
  const params = new URLSearchParams();
  if (q.workload !== undefined) params.set("workload", q.workload);
  params.set("since", String(q.sinceMs));
  if (scope) params.set("scope", scope);
  return `/observations?${params.toString()}`;
}

/** `--peers` text: comma-separated http(s)://host:port base URLs, each named in the error when wrong. */
export function parsePeerUrls(text: string, flag: string): string[] {
  const urls = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (urls.length === 0) throw new Error(`${flag}: expected URL,URL,… of the replicas' HTTP side, got "${text}"`);
  return urls.map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new Error(`${flag}: "${u}" is not a URL`);
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.pathname !== "/" || url.search !== "" || url.username !== "") {
      throw new Error(`${flag}: "${u}": expected http(s)://host:port, nothing after the port`);
    }
    return `${url.protocol}//${url.host}`;
  });
}

/** Every peer's own reports for the query, merged with `local`; the peers that did not answer, and why. */
export async function gatherReports(
  local: readonly StoredReport[],
  query: ObservationQuery,
  authorization: string | undefined,
  opts: PeerOptions,
): Promise<{ reports: StoredReport[]; peers: PeersView }> {
  type Answer = { peer: string; reports: StoredReport[] } | { peer: string; reason: string };
  const answers = await Promise.all(
    opts.urls.map(async (peer): Promise<Answer> => {
      try {
        return { peer, reports: await askPeer(peer, observationsPath(query, "local"), authorization, opts) };
      } catch (err) {
        return { peer, reason: errorMessage(err) };
      }
    }),
  );
  return {
    reports: mergeReports([local, ...answers.map((a) => ("reports" in a ? a.reports : []))]),
    peers: { asked: [...opts.urls], missing: answers.flatMap((a) => ("reason" in a ? [{ peer: a.peer, reason: a.reason }] : [])) },
  };
}

/** One list, oldest first, each report once (by store.ts reportKey: node, filter boot and instance, seq). */
export function mergeReports(lists: ReadonlyArray<readonly StoredReport[]>): StoredReport[] {
  const seen = new Map<string, StoredReport>();
  for (const list of lists) {
    for (const r of list) {
      const key = reportKey(r);
      if (!seen.has(key)) seen.set(key, r);
    }
  }
  return [...seen.values()].sort((a, b) => a.at - b.at);
}

async function askPeer(base: string, pathAndQuery: string, authorization: string | undefined, opts: PeerOptions): Promise<StoredReport[]> {
  const text = await getBounded(new URL(pathAndQuery, base), authorization, opts);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error("answered with something other than JSON");
  }
  const reports = (body as { reports?: unknown } | null)?.reports;
  if (!Array.isArray(reports)) throw new Error("answered without a reports list");
  return reports.map((r: unknown, i) => {
    try {
      return parseStoredReport(r);
    } catch (err) {
      throw new Error(`reports[${i}]: ${errorMessage(err)}`);
    }
  });
}

/** GET with one deadline over connect, headers and body, and a size bound; non-200 is an error with the peer's words. */
function getBounded(url: URL, authorization: string | undefined, opts: PeerOptions): Promise<string> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, text?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(text!);
    };
    const headers = authorization !== undefined ? { authorization } : {};
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) settle(new Error(`answered more than ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on("error", (err) => settle(err));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode === 200) settle(undefined, text);
        else settle(new Error(`HTTP ${res.statusCode ?? "?"}: ${text.trim().slice(0, 200)}`));
      });
    };
    const req = url.protocol === "https:"
      ? httpsRequest(url, { headers, ...(opts.ca ? { ca: opts.ca } : {}) }, onResponse)
      : httpRequest(url, { headers }, onResponse);
    const timer = setTimeout(() => settle(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on("error", (err) => settle(err));
    req.end();
  });
}

/**
 * What /observations answers: this replica's reports (`local`, or no peers configured), else
 * the whole fleet's with the peers that did not answer.
 */
export async function fleetReports(
  store: ObservationStore,
  peers: PeerOptions | undefined,
  query: ObservationQuery,
  scope: "local" | "fleet",
  authorization: string | undefined,
): Promise<{ reports: StoredReport[]; peers?: PeersView }> {
  const local = query.workload !== undefined ? store.query(query.workload, query.sinceMs) : store.all(query.sinceMs);
  if (scope === "local" || !peers) return { reports: local };
  return gatherReports(local, query, authorization, peers);
}
