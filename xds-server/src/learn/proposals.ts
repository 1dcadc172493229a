// A workload's proposal as `picoseg learn` prints it and the console shows it, with what-if of that
// proposal and of the segments in force over the same observations: what the operator would gain
// or lose by applying it. One function for both, so that the page and the command never disagree.
import { validatePolicyText, type LoadedSegment } from "../policy/index.js";
import { formatPolicyError } from "../../../api/status.js";
import type { MissingPeer, StoredReport } from "../telemetry/index.js";
import { proposeSegment, type ProposeOptions } from "./propose.js";
import { trafficOf, type Traffic } from "./traffic.js";
import { whatIf, type WhatIfResult } from "./whatif.js";
import { errorMessage } from "../util/index.js";

/** The warning that data is partial: one line per replica that did not answer. */
export function partialDataLines(missing: readonly MissingPeer[]): string[] {
  if (missing.length === 0) return [];
  return [
    `PARTIAL DATA: ${missing.length} replica(s) did not answer; their proxies' observations are missing:`,
    ...missing.map((m) => `  ${m.peer}: ${m.reason}`),
  ];
}

/** What `picoseg learn` prints: the proposal, headed by a comment when replicas did not answer. */
export function proposalYaml(traffic: Traffic, opts: ProposeOptions, missing: readonly MissingPeer[]): string {
  const yaml = proposeSegment(traffic, opts);
  const partial = partialDataLines(missing);
  return partial.length === 0 ? yaml : `${partial.map((l) => `# ${l}`).join("\n")}\n${yaml}`;
}

export interface WorkloadProposal {
  workload: string;
  reports: number;
  connections: number;
  /** The proposal's YAML, exactly what `picoseg learn` prints for the same observations and options. */
  proposal?: string;
  /** Why there is no proposal (e.g. only denials were observed). */
  error?: string;
  whatIf: {
    /** The observed traffic replayed against the proposal: what it would deny. */
    proposal?: WhatIfResult;
    /** The same traffic against the segments in force now. */
    inForce: WhatIfResult;
  };
}

/** The proposal of each workload among `reports` (sorted by workload), and both what-ifs. */
export function workloadProposals(
  reports: readonly StoredReport[],
  opts: Omit<ProposeOptions, "workload">,
  inForce: readonly LoadedSegment[],
  missing: readonly MissingPeer[],
): WorkloadProposal[] {
  const byWorkload = new Map<string, StoredReport[]>();
  for (const r of reports) {
    const list = byWorkload.get(r.workload);
    if (list) list.push(r);
    else byWorkload.set(r.workload, [r]);
  }
  return [...byWorkload.keys()].sort().map((workload) => {
    const traffic = trafficOf(byWorkload.get(workload)!);
    const base = {
      workload,
      reports: traffic.reports,
      connections: traffic.conns.reduce((a, c) => a + c.n, 0),
    };
    const now = whatIf(traffic, inForce, workload);
    let proposal: string;
    try {
      proposal = proposalYaml(traffic, { ...opts, workload }, missing);
    } catch (err) {
      return { ...base, error: errorMessage(err), whatIf: { inForce: now } };
    }
    const parsed = validatePolicyText(proposal, `proposal of ${workload}`);
    // proposeSegment promises a valid document; if it ever is not, say so rather than replay half of it.
    if (parsed.errors.length > 0) {
      return { ...base, proposal, error: `the proposal does not validate: ${parsed.errors.map(formatPolicyError).join("; ")}`, whatIf: { inForce: now } };
    }
    return { ...base, proposal, whatIf: { proposal: whatIf(traffic, parsed.segments, workload), inForce: now } };
  });
}
