// The observations of one workload from a running server's /observations (learn and what-if).
// With `serve --peers`, the server gathers them from every replica and names those that did not
// answer: the caller warns, since a proposal from part of the fleet misses sources.
import { readFileSync } from "node:fs";
import { observationsPath, type MissingPeer, type StoredReport } from "../telemetry/index.js";
import { parseSince, parseWorkload } from "./options.js";
import { trafficOf, type Traffic } from "./traffic.js";
import { errorMessage } from "../util/index.js";

export interface FetchOptions {
  server: string;
  /** NS/NAME. */
  workload: string;
  /** A duration such as 24h: reports that arrived since then. */
  since: string;
  tokenFile?: string;
}

export interface FetchedTraffic {
  traffic: Traffic;
  /** Replicas that did not answer the server (empty without peers). */
  missing: MissingPeer[];
}

export async function fetchTraffic(command: string, opts: FetchOptions): Promise<FetchedTraffic> {
  const field = (option: string): string => `${command}: --${option}`;
  const query = { workload: parseWorkload(opts.workload, field), sinceMs: parseSince(opts.since, field) };
  const url = `${opts.server.replace(/\/+$/, "")}${observationsPath(query)}`;
  const token = opts.tokenFile !== undefined ? readFileSync(opts.tokenFile, "utf8").trim() : undefined;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  } catch (err) {
    throw new Error(`${command}: cannot reach ${url}: ${errorMessage(err)}`);
  }
  if (!res.ok) throw new Error(`${command}: ${url}: HTTP ${res.status}: ${(await res.text()).trim()}`);
  const body = (await res.json()) as { reports: StoredReport[]; peers?: { missing: MissingPeer[] } };
  return { traffic: trafficOf(body.reports), missing: body.peers?.missing ?? [] };
}
