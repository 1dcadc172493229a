// The compliance report: for each regulated workload the server sees (a `picoseg.io/data-class`
// label, or a selecting segment with `compliance:`), whether an enforcing segment protects it, its
// rules in plain words, the findings an assessor would raise (each with a severity and the
// requirement it relates to), what config its proxies ACKed and since when, and the decisions
// the server could read from them. Evidence for an assessment, not a certification.
import { LIMIT_ANNOTATIONS, type LimitName, parseQuantity, readAnnotations, selectSegments, type LoadedSegment } from "../policy/index.js";
import { type Workload, workloadName } from "../../../api/workload.js";
import { COMPLIANCE_REGIMES, DATA_CLASS_LABEL, type ComplianceRegime, type Rule } from "../../../api/picosegment.js";
import { type ProxyDecisions } from "../telemetry/index.js";
import type { ProxyStatus } from "../../../api/status.js";
import { type DeniedAttempt } from "../../../api/report.js";
import { defined } from "../util/index.js";

export type Severity = "critical" | "high" | "medium" | "low";

/** Which regime each data class falls under; other classes (pii, …) are listed with no regime. */
export const DATA_CLASS_REGIMES: Readonly<Record<string, ComplianceRegime>> = { pci: "pci-dss", phi: "hipaa" };

export interface Requirement {
  regime: ComplianceRegime;
  id: string;
  title: string;
}

/** The requirements the checks relate to (PCI-DSS v4.0, HIPAA Security Rule 45 CFR 164.312). */
export const REQUIREMENTS = {
  "pci-dss": {
    restrictInbound: { id: "1.3.1", title: "inbound traffic to the CDE is restricted to only traffic that is necessary; all other traffic is denied" },
    portsApproved: { id: "1.2.5", title: "all services, protocols and ports allowed are identified, approved and have a defined business need" },
    configConsistent: { id: "1.2.8", title: "configuration files for network security controls are kept consistent with active network configurations" },
    auditLogs: { id: "10.2.1", title: "audit logs are enabled and active for all system components and cardholder data" },
  },
  hipaa: {
    restrictInbound: { id: "164.312(a)(1)", title: "access control: allow access only to persons or software programs that have been granted access rights" },
    portsApproved: { id: "164.312(a)(1)", title: "access control: allow access only to persons or software programs that have been granted access rights" },
    authenticate: { id: "164.312(d)", title: "person or entity authentication: verify that an entity seeking access is the one claimed" },
    configConsistent: { id: "164.312(a)(1)", title: "access control: allow access only to persons or software programs that have been granted access rights" },
    auditLogs: { id: "164.312(b)", title: "audit controls: record and examine activity in systems that contain electronic protected health information" },
  },
} as const;

type Check = "restrictInbound" | "portsApproved" | "configConsistent" | "auditLogs" | "authenticate";

export interface Finding {
  severity: Severity;
  /** Stable id of the check, e.g. `audit-only`, `any-source`. */
  check: string;
  requirements: Requirement[];
  text: string;
}

export interface RuleInWords {
  segment: string;
  rule: string;
  mode: "enforce" | "audit";
  text: string;
}

export interface ProxyEvidence {
  nodeId: string;
  resource: string;
  /** The version last sent to the proxy. */
  sent?: string;
  /** The version the proxy ACKed, and since when (ms since epoch). */
  acked?: string;
  ackedAt?: number;
  current?: string;
  inSync: boolean;
  nack?: { version: string; detail: string; at: number };
}

export interface DecisionEvidence {
  /** Counts since this time (ms since epoch), by `allow`, `deny:<reason>`, `audit:<reason>` (telemetry countKey). */
  since?: number;
  counts: Record<string, number>;
  /**
   * Denied attempts by reason and source, from the reports of the workload's filters (regulated
   * workloads report their denials); "not reported" where the server keeps no reports.
   */
  sources: "not reported" | DeniedAttempt[];
  /** Proxies whose counters could not be read, with why. */
  unreadable: string[];
}

export interface WorkloadReport {
  workload: string;
  namespace: string;
  labels: Record<string, string>;
  dataClass?: string;
  regimes: ComplianceRegime[];
  /** enforce: an enforcing segment selects it; audit-only: only audit ones; none: no segment. */
  coverage: "enforce" | "audit-only" | "none";
  /** Why each selects the workload: its selector's labels (none: every workload of its namespace). */
  segments: Array<{ name: string; mode: "enforce" | "audit"; compliance: ComplianceRegime[]; selects: Record<string, string> }>;
  rules: RuleInWords[];
  findings: Finding[];
  proxies: ProxyEvidence[];
  decisions: DecisionEvidence;
}

export interface ComplianceReport {
  generatedAt: number;
  controlPlane: string;
  policyRevision: number;
  /** The regime asked for, or all. */
  regime?: ComplianceRegime;
  workloads: WorkloadReport[];
  summary: { workloads: number; findings: Record<Severity, number> };
  disclaimer: string;
}

export const DISCLAIMER =
  "Evidence for an assessment, not a certification: it shows what the picoseg server enforces and observes for these workloads; an assessor decides whether it meets a requirement.";

export interface ReportInput {
  controlPlane: string;
  policyRevision: number;
  segments: readonly LoadedSegment[];
  proxies: readonly ProxyStatus[];
  decisions: readonly ProxyDecisions[];
  /** The denied attempts the filters of these proxies reported (observe/); absent: "not reported". */
  deniedAttempts?: (nodeIds: readonly string[]) => DeniedAttempt[];
  regime?: ComplianceRegime;
  now?: number;
}

export function isRegime(v: string): v is ComplianceRegime {
  return (COMPLIANCE_REGIMES as readonly string[]).includes(v);
}

/** Proxies of one workload share namespace, name and labels (the replicas of a Deployment). */
function byWorkload(proxies: readonly ProxyStatus[]): Array<{ workload: Workload; proxies: ProxyStatus[] }> {
  const groups = new Map<string, { workload: Workload; proxies: ProxyStatus[] }>();
  for (const p of proxies) {
    const key = `${workloadName(p.workload, p.nodeId)} ${JSON.stringify(Object.entries(p.workload.labels).sort())}`;
    const w = groups.get(key) ?? { workload: p.workload, proxies: [] };
    w.proxies.push(p);
    groups.set(key, w);
  }
  return [...groups.values()];
}

/**
 * The same view of any workload, regulated or not (`picoseg describe`): the workloads whose
 * proxies `match` picks, each with its segments and why, its rules as its proxies enforce them
 * (annotations applied), each proxy's versions and the decisions read from them.
 */
export function describeWorkloads(input: Omit<ReportInput, "regime">, match: (p: ProxyStatus) => boolean): WorkloadReport[] {
  const groups = byWorkload(input.proxies.filter(match));
  return groups.map(({ workload, proxies }) => workloadReport(workload, proxies, input, true)!);
}

export function buildReport(input: ReportInput): ComplianceReport {
  const workloads: WorkloadReport[] = [];
  for (const { workload, proxies } of byWorkload(input.proxies)) {
    const r = workloadReport(workload, proxies, input);
    if (r && (input.regime === undefined || r.regimes.includes(input.regime))) workloads.push(r);
  }
  workloads.sort((a, b) => (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : 0));
  const findings: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const w of workloads) for (const f of w.findings) findings[f.severity] += 1;
  return {
    generatedAt: input.now ?? Date.now(),
    controlPlane: input.controlPlane,
    policyRevision: input.policyRevision,
    ...(input.regime ? { regime: input.regime } : {}),
    workloads,
    summary: { workloads: workloads.length, findings },
    disclaimer: DISCLAIMER,
  };
}

function workloadReport(workload: Workload, proxies: ProxyStatus[], input: Omit<ReportInput, "regime">, all = false): WorkloadReport | undefined {
  const selected = selectSegments(input.segments, workload);
  const dataClass = workload.labels[DATA_CLASS_LABEL];
  const regimes = new Set<ComplianceRegime>();
  const mapped = dataClass !== undefined ? DATA_CLASS_REGIMES[dataClass] : undefined;
  if (mapped) regimes.add(mapped);
  for (const s of selected) for (const c of s.segment.spec.compliance ?? []) regimes.add(c);
  if (!all && dataClass === undefined && regimes.size === 0) return undefined;
  const regimeList = COMPLIANCE_REGIMES.filter((r) => regimes.has(r));

  // picoseg.io/mode: enforce makes an audit segment enforce for this workload (never the reverse).
  const { tightening } = readAnnotations(workload.annotations);
  const forced = tightening.enforce;
  const segments = selected.map((s) => ({
    name: `${s.segment.metadata.namespace}/${s.segment.metadata.name}`,
    mode: forced ? ("enforce" as const) : (s.segment.spec.mode ?? "enforce"),
    compliance: s.segment.spec.compliance ?? [],
    selects: { ...(s.segment.spec.selector?.matchLabels ?? {}) },
  }));
  const coverage = segments.some((s) => s.mode === "enforce") ? "enforce" : segments.length > 0 ? "audit-only" : "none";
  const name = workloadName(workload, proxies[0]?.nodeId ?? "?");
  const findings: Finding[] = [];
  // The requirement of each of the workload's regimes (a pii-only workload has none: findings stand alone).
  const req = (check: Check): Requirement[] =>
    regimeList.flatMap((regime) => {
      const r = (REQUIREMENTS[regime] as Partial<Record<Check, { id: string; title: string }>>)[check];
      return r ? [{ regime, ...r }] : [];
    });
  const add = (severity: Severity, check: string, reqCheck: Check, text: string): void => {
    findings.push({ severity, check, requirements: req(reqCheck), text });
  };

  if (coverage === "none") add("critical", "no-segment", "restrictInbound", `no segment selects ${name}: the filter denies everything it sees (no-rule), but no policy states what is necessary`);
  if (coverage === "audit-only") add("high", "audit-only", "restrictInbound", `only audit-mode segments select ${name} (${segments.map((s) => s.name).join(", ")}): nothing is denied, violations are only logged and counted`);

  const rules: RuleInWords[] = [];
  for (const s of selected) {
    const seg = segments.find((x) => x.name === `${s.segment.metadata.namespace}/${s.segment.metadata.name}`)!;
    const rs = s.segment.spec.rules ?? [];
    if (rs.length === 0) rules.push({ segment: seg.name, rule: "(none)", mode: seg.mode, text: "no rule: every connection is denied" });
    for (const rule of rs) {
      rules.push({ segment: seg.name, rule: rule.name, mode: seg.mode, text: ruleInWords(rule, tightening.limits) });
      const where = `rule ${seg.name}/${rule.name}`;
      if (admitsAnySource(rule)) add("high", "any-source", "restrictInbound", `${where} admits any source`);
      else if (!rule.from?.principals?.length) add("medium", "address-only", "authenticate", `${where} admits sources by address only, with no mTLS identity`);
      if (!rule.ports?.length) add("medium", "any-port", "portsApproved", `${where} admits any destination port`);
      if (!rule.protocols?.length) add("low", "any-protocol", "portsApproved", `${where} admits any protocol`);
    }
  }

  const evidence: ProxyEvidence[] = [];
  for (const p of proxies) {
    for (const r of p.resources) {
      const inSync = r.acked !== undefined && r.acked === r.current;
      evidence.push({
        nodeId: p.nodeId,
        resource: r.name,
        ...defined({ sent: r.sent, acked: r.acked, ackedAt: r.ackedAt, current: r.current }),
        inSync,
        ...(r.nack ? { nack: r.nack } : {}),
      });
      if (r.nack && r.nack.version === r.sent) add("high", "nack", "configConsistent", `proxy ${p.nodeId} rejected config ${r.nack.version.slice(0, 8)} and enforces an older one: ${r.nack.detail}`);
      else if (!inSync) add("medium", "not-in-sync", "configConsistent", `proxy ${p.nodeId} has not ACKed the current config of ${r.name}`);
    }
  }

  const decisions: DecisionEvidence = {
    counts: {},
    sources: input.deniedAttempts ? input.deniedAttempts(proxies.map((p) => p.nodeId)) : "not reported",
    unreadable: [],
  };
  for (const p of proxies) {
    const d = input.decisions.find((x) => x.nodeId === p.nodeId);
    if (!d || d.lastReadAt === undefined) {
      decisions.unreadable.push(`${p.nodeId}: ${d?.error ?? "not read yet"}`);
      continue;
    }
    decisions.since = Math.min(decisions.since ?? d.since, d.since);
    for (const [k, v] of Object.entries(d.counts)) decisions.counts[k] = (decisions.counts[k] ?? 0) + v;
  }
  if (decisions.unreadable.length > 0) {
    add("low", "decisions-unreadable", "auditLogs", `the server cannot read the decision counters of ${decisions.unreadable.length} proxy(ies); denied attempts are only in their Envoy logs and metrics`);
  }

  const order: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    workload: name,
    namespace: workload.namespace,
    labels: { ...workload.labels },
    ...defined({ dataClass }),
    regimes: regimeList,
    coverage,
    segments,
    rules,
    findings,
    proxies: evidence,
    decisions,
  };
}

/** The annotation that lowers each limit. */
const ANNOTATION_OF = Object.fromEntries(Object.entries(LIMIT_ANNOTATIONS).map(([name, a]) => [a.limit, name])) as Record<LimitName, string>;

const ANY_V4 = /^0\.0\.0\.0\/0$/;
const ANY_V6 = /^::\/0$/;

/** No `from`, or a `from` that names no principal and an address block covering everything. */
export function admitsAnySource(rule: Rule): boolean {
  const f = rule.from;
  if (!f) return true;
  if (f.principals?.length) return f.principals.some((p) => p === "*");
  if (!f.ipBlocks?.length) return true;
  return f.ipBlocks.some((b) => ANY_V4.test(b) || ANY_V6.test(b));
}

/**
 * One rule as a sentence an auditor reads; with the workload's annotation limits, each limit as
 * its proxies enforce it (the tighter of rule and annotation), saying which annotation set it.
 */
export function ruleInWords(rule: Rule, annotated: Partial<Record<LimitName, number>> = {}): string {
  const parts: string[] = [];
  const f = rule.from;
  const who: string[] = [];
  if (f?.principals?.length) who.push(`identities ${f.principals.join(", ")}`);
  if (f?.ipBlocks?.length) who.push(`addresses ${f.ipBlocks.join(", ")}`);
  let from = who.length ? `from ${who.join(" and ")}` : "from any source";
  if (f?.notIpBlocks?.length) from += ` except ${f.notIpBlocks.join(", ")}`;
  parts.push(from);
  parts.push(rule.ports?.length ? `to port${rule.ports.length > 1 ? "s" : ""} ${rule.ports.join(", ")}` : "to any port");
  parts.push(rule.protocols?.length ? `speaking ${rule.protocols.join(" or ")}` : "any protocol");
  if (rule.schedule) {
    const tz = rule.schedule.timezone ?? "UTC";
    parts.push(`only ${rule.schedule.windows.map((w) => `${w.days.join(",")} ${w.start}–${w.end}`).join("; ")} (${tz})`);
  } else parts.push("at any time");
  const l = rule.limits;
  /** The rule's limit as written, unless an annotation makes it tighter. */
  const limit = (name: LimitName, written: number | string | undefined, unit = ""): string | undefined => {
    const a = annotated[name];
    const parsed = written === undefined ? undefined : name === "maxDurationSeconds" ? { ok: true as const, value: Number(written) } : parseQuantity(written);
    const value = parsed?.ok ? parsed.value : undefined;
    if (a !== undefined && (value === undefined || a < value)) return `${a}${unit} (annotation ${ANNOTATION_OF[name]}; the rule says ${written ?? "none"})`;
    return written === undefined ? undefined : `${written}${unit}`;
  };
  const limits: string[] = [];
  const inB = limit("maxBytesIn", l?.maxBytesIn);
  const outB = limit("maxBytesOut", l?.maxBytesOut);
  const msg = limit("maxMessageBytes", l?.maxMessageBytes);
  const dur = limit("maxDurationSeconds", l?.maxDurationSeconds, " s");
  if (inB !== undefined) limits.push(`${inB} in`);
  if (outB !== undefined) limits.push(`${outB} out`);
  if (msg !== undefined) limits.push(`messages up to ${msg} (${l?.framing?.type ?? "chunk"})`);
  if (dur !== undefined) limits.push(`${dur} long`);
  if (limits.length) parts.push(`at most ${limits.join(", ")} per connection`);
  const ps = rule.perSource;
  if (ps) {
    const per: string[] = [];
    if (ps.maxConnections !== undefined) per.push(`${ps.maxConnections} connections`);
    if (ps.maxBytes !== undefined) per.push(`${ps.maxBytes}`);
    if (ps.maxDistinctPorts !== undefined) per.push(`${ps.maxDistinctPorts} distinct ports`);
    if (per.length) parts.push(`per source in ${ps.window}: at most ${per.join(", ")}`);
  }
  return parts.join("; ");
}
