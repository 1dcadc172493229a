// The observations of one workload from a running server's /observations (learn and what-if).
// With `serve --peers`, the server gathers them from every replica and names those that did not
// answer: the caller warns, since a proposal from part of the fleet misses sources. How the server
// is reached (a URL, or through the Kubernetes API) is the caller's: it passes a GET.
import { observationsPath, type MissingPeer, type StoredReport } from "../telemetry/index.js";
import { parseSince, parseWorkload } from "./options.js";
import { trafficOf, type Traffic } from "./traffic.js";

export interface FetchOptions {
  /** NS/NAME. */
  workload: string;
  /** A duration such as 24h: reports that arrived since then. */
  since: string;
}

export interface FetchedTraffic {
  traffic: Traffic;
  /** Replicas that did not answer the server (empty without peers). */
  missing: MissingPeer[];
}

/** GETs a path of the server's HTTP side and resolves with the body of a 2xx answer. */
export type ServerGet = (path: string) => Promise<string>;

export async function fetchTraffic(command: string, opts: FetchOptions, get: ServerGet): Promise<FetchedTraffic> {
  const field = (option: string): string => `${command}: --${option}`;
  const query = { workload: parseWorkload(opts.workload, field), sinceMs: parseSince(opts.since, field) };
  const body = JSON.parse(await get(observationsPath(query))) as { reports: StoredReport[]; peers?: { missing: MissingPeer[] } };
  return { traffic: trafficOf(body.reports), missing: body.peers?.missing ?? [] };
}
