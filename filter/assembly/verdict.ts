// How a decision leaves the filter: the connection closed (enforce) or not (audit), the
// counter, the decision line, and the quarantine strike. Two entry points, by who is
// charged: a connection under its governing rule (violated), or one that no rule admits
// (refused, right after rules.ts select()).
import { Config, Segment } from "./config";
import { Conn, F_AUDIT, F_CLOSED } from "./connection";
import { Decision, logDecision, wouldLog } from "./decisionlog";
import { destPort, principal, readFacts, sourceText } from "./facts";
import { closeDownstream, LOG_DEBUG, LOG_WARN, nowMs } from "./hostcalls";
import { learnDenial, reporting } from "./learning";
import { Metrics } from "./metrics";
import { isStrike } from "./reasons";
import { firstFromRule } from "./rules";
import { protocolName } from "./sniff";
import { addStrike } from "./sharedrecords";

/**
 * A violation (or, in audit mode, a would-be violation) by connection c, whose context is
 * effective, under its rule c.rule of cfg (null when that configuration is gone). Returns
 * true when the connection was closed.
 */
export function violated(metrics: Metrics, c: Conn, reason: i32, cfg: Config | null): bool {
  return report(metrics, c, reason, cfg, c.rule, (c.flags & F_AUDIT) != 0, "");
}

/** violated(), naming the policy field that decided in the decision line (`from.mqttClientIds`). */
export function violatedField(metrics: Metrics, c: Conn, reason: i32, cfg: Config | null, field: string): bool {
  return report(metrics, c, reason, cfg, c.rule, (c.flags & F_AUDIT) != 0, field);
}

/**
 * Admission found no governing rule (reason from select(), or no-config with a null cfg).
 * Audit only when every segment is in audit mode; strikes and the line go to the first rule
 * whose `from` matched. Returns true when the connection was closed.
 */
export function refused(metrics: Metrics, c: Conn, reason: i32, cfg: Config | null): bool {
  if (cfg === null) return report(metrics, c, reason, null, -1, false, "");
  return report(metrics, c, reason, cfg, firstFromRule, (cfg as Config).allAudit, "");
}

function report(metrics: Metrics, c: Conn, reason: i32, cfg: Config | null, ruleIdx: i32, audit: bool, field: string): bool {
  if (audit) {
    let bit: u32 = (<u32>1) << <u32>reason;
    if ((c.auditLogged & bit) != 0) return false;
    c.auditLogged |= bit;
  } else {
    c.flags |= F_CLOSED;
    closeDownstream();
  }
  metrics.countDecision(reason, audit);
  let strikeSeg: Segment | null = null;
  if (isStrike(reason) && cfg !== null && ruleIdx >= 0 && ruleIdx < cfg.rules.length) {
    let r = cfg.rules[ruleIdx];
    if (r.segment < cfg.segments.length && cfg.segments[r.segment].quarantineStrikes > 0) strikeSeg = cfg.segments[r.segment];
  }
  // Deny and audit lines print at warn; the facts (read again: the caller's may be another
  // connection's) serve only the line, the strike's identity and learning mode's denials.
  let log = wouldLog(LOG_WARN);
  if (!log && strikeSeg === null && !reporting) return !audit;
  readFacts();
  learnDenial(destPort, reason, audit, nowMs());
  if (log) {
    let d = new Decision();
    d.verdict = audit ? "audit" : "deny";
    d.reason = reason;
    d.mode = audit ? "audit" : "enforce";
    d.connection = c.id;
    d.bytesIn = c.bytesIn;
    d.bytesOut = c.bytesOut;
    d.protocol = c.protocol >= 0 ? protocolName(c.protocol) : "";
    d.source = sourceText;
    d.principal = principal;
    d.port = destPort;
    d.field = field;
    if (cfg !== null && ruleIdx >= 0 && ruleIdx < cfg.rules.length) {
      let r = cfg.rules[ruleIdx];
      d.rule = r.name;
      if (r.segment < cfg.segments.length) d.segment = cfg.segments[r.segment].name;
    }
    logDecision(d);
  }
  if (strikeSeg !== null) addStrike(strikeSeg as Segment, nowMs());
  return !audit;
}

/** The allow line, at debug (facts as read by admission). */
export function logAdmitted(c: Conn, cfg: Config, ruleIdx: i32): void {
  if (!wouldLog(LOG_DEBUG)) return;
  let r = cfg.rules[ruleIdx];
  let d = new Decision();
  d.verdict = "allow";
  d.connection = c.id;
  d.segment = cfg.segments[r.segment].name;
  d.rule = r.name;
  d.source = sourceText;
  d.principal = principal;
  d.port = destPort;
  d.mode = (c.flags & F_AUDIT) != 0 ? "audit" : "enforce";
  logDecision(d);
}
