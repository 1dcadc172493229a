// The observations of one workload from a running server's /observations (learn and what-if).
import { readFileSync } from "node:fs";
import { parseDuration } from "../policy/quantity.js";
import type { StoredReport } from "../observe/store.js";
import { trafficOf, type Traffic } from "./traffic.js";

export interface FetchOptions {
  server: string;
  /** NS/NAME. */
  workload: string;
  /** A duration such as 24h: reports that arrived since then. */
  since: string;
  tokenFile?: string;
}

export async function fetchTraffic(command: string, opts: FetchOptions): Promise<Traffic> {
  if (!/^[^/]+\/[^/]+$/.test(opts.workload)) throw new Error(`${command}: --workload: expected NS/NAME, got "${opts.workload}"`);
  const since = parseDuration(opts.since);
  if (!since.ok) throw new Error(`${command}: --since: ${since.message}`);
  const from = Date.now() - since.value * 1000;
  const url = `${opts.server.replace(/\/+$/, "")}/observations?workload=${encodeURIComponent(opts.workload)}&since=${from}`;
  const token = opts.tokenFile !== undefined ? readFileSync(opts.tokenFile, "utf8").trim() : undefined;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  } catch (err) {
    throw new Error(`${command}: cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new Error(`${command}: ${url}: HTTP ${res.status}: ${(await res.text()).trim()}`);
  const body = (await res.json()) as { reports: StoredReport[] };
  return trafficOf(body.reports);
}
