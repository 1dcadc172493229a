// The tick (every 500 ms per root context): what must happen to live connections with time
// or with a new configuration, never per byte. For each live connection, in this order:
// pending admission, held server bytes, revocation when its configuration is gone, the sniff
// deadline, the per-source lease window, maxDurationSeconds, the schedule, and revocation
// against a newer configuration (recheck). New periodic work: a step in checkConnection(), or
// per root in tick(), in the connection's context (setEffectiveContext) before any host call.
import { Config, NONE, Rule } from "./config";
import { Conn, F_AUDIT, F_CLOSED, F_ENDED, F_PENDING, F_PENDING_SNI, F_SNIFF_SET } from "./connection";
import { principal, readFacts, useServerNameOf } from "./facts";
import { startFraming } from "./framing";
import { CONTINUE, nowMs, setEffectiveContext } from "./hostcalls";
import { learnTick } from "./learning";
import { decide } from "./admission";
import { refreshLogLevel } from "./decisionlog";
import { releaseHeldOut, sniffExpired } from "./datapath";
import { secondsToMs } from "./persource";
import { R_DURATION, R_REVOKED, R_SCHEDULE } from "./reasons";
import { PicosegRoot, newestByPlugin, ruleIn } from "./root";
import { findSameRule, fromMatches, portMatches } from "./rules";
import { ruleInWindow } from "./schedule";
import { P_UNKNOWN } from "./sniff";
import { violated } from "./verdict";

/** A TLS connection whose peer principal is still unknown this long after accept is judged without one. */
const PENDING_MAX_MS: i64 = 5000;

export function tick(root: PicosegRoot): void {
  refreshLogLevel(); // before any line this tick may log
  let now = nowMs();
  let cfg = root.cfg;
  if (cfg !== null) refreshWindows(cfg as Config, now);
  let prev = root.prevCfg;
  if (prev !== null) refreshWindows(prev as Config, now);
  // What the live connections must still be admitted by: this root's own new configuration
  // after an in-place reconfigure, else a newer generation of this plugin from another root.
  let newest: Config | null = null;
  if (prev !== null) {
    newest = cfg;
  } else if (cfg !== null && newestByPlugin.has(root.pluginName)) {
    let n = newestByPlugin.get(root.pluginName);
    if (n !== cfg && n.generation > cfg.generation) newest = n;
  }
  // Not a conditional expression: asc 0.17 miscounts references through `c ? ref : null` (use after free).
  let recheckAgainst: Config | null = null;
  if (newest !== null && (newest !== root.checkedCfg || prev !== null)) recheckAgainst = newest;
  let p = root.head;
  while (p != 0) {
    let c = changetype<Conn>(p);
    p = c.next; // c may be closed below, never freed here
    if ((c.flags & (F_CLOSED | F_ENDED)) == 0) checkConnection(root, c, recheckAgainst, now);
  }
  if (newest !== null) root.checkedCfg = newest;
  root.prevCfg = null;
  setEffectiveContext(root.context_id);
  learnTick(now, root.context_id);
  __collect(); // free cyclic garbage of the managed heap (AS 0.17 never does it by itself)
}

function checkConnection(root: PicosegRoot, c: Conn, recheckAgainst: Config | null, now: i64): void {
  if ((c.flags & F_PENDING) != 0) {
    // Decide once the handshake revealed the principal, or when waiting has gone on too long.
    setEffectiveContext(c.id);
    readFacts();
    // A server name comes with the client's first bytes (datapath.ts), never from the tick.
    let known = principal.length > 0 && (c.flags & F_PENDING_SNI) == 0;
    if (known || now - c.startMs >= PENDING_MAX_MS) {
      if (decide(root, c, now) == CONTINUE) releaseHeldOut(c);
    }
    return;
  }
  if (c.waitingOut > 0) {
    // Admitted, and the held server bytes have not come back since the last nudge.
    setEffectiveContext(c.id);
    releaseHeldOut(c);
  }
  if (c.rule < 0) return;
  let metrics = root.metrics;
  let ccfg = root.cfgOf(c);
  let r = ruleIn(ccfg, c);
  if (ccfg === null || r === null) {
    setEffectiveContext(c.id);
    violated(metrics, c, R_REVOKED, null);
    return;
  }
  let cfg = ccfg as Config;
  let rule = r as Rule;
  // Checked here, not per byte: the data path never looks at the clock for sniffing.
  if (c.protocol < 0 && (c.flags & F_SNIFF_SET) != 0 && rule.protocols != 0 &&
      now - c.startMs >= <i64>min(rule.sniffTimeoutMs, 9007199254740991)) {
    setEffectiveContext(c.id);
    sniffExpired(root, c, cfg, rule);
    if ((c.flags & F_CLOSED) != 0) return;
  }
  // A lease from a past per-source window must not be spent in the next one.
  if (c.lease > 0 && now - c.leaseWindow >= secondsToMs(rule.psWindowS)) c.lease = 0;
  if (rule.maxDurationS != NONE && now - c.startMs >= secondsToMs(rule.maxDurationS)) {
    setEffectiveContext(c.id);
    if (violated(metrics, c, R_DURATION, cfg)) return;
  }
  if (!rule.inWindow) {
    setEffectiveContext(c.id);
    if (violated(metrics, c, R_SCHEDULE, cfg)) return;
  }
  if (recheckAgainst !== null) recheck(root, c, cfg, rule, recheckAgainst as Config, now);
}

/** Revocation: is c still admitted by the same-named rule of the newest configuration? */
function recheck(root: PicosegRoot, c: Conn, ccfg: Config, rule: Rule, newest: Config, now: i64): void {
  setEffectiveContext(c.id);
  if (!newest.valid) {
    violated(root.metrics, c, R_REVOKED, ccfg);
    return;
  }
  readFacts();
  useServerNameOf(c);
  let segName = rule.segment < ccfg.segments.length ? ccfg.segments[rule.segment].name : "";
  let j = findSameRule(newest, segName, rule.name);
  let admitted = j >= 0;
  if (admitted) {
    let nr = newest.rules[j];
    if (!fromMatches(nr) || !portMatches(nr)) admitted = false;
    else if (nr.protocols != 0 && !protocolStillAdmitted(c, nr.protocols)) admitted = false;
    else if (!ruleInWindow(newest, nr, now)) admitted = false;
    if (admitted && newest === root.cfg && ccfg !== newest) {
      // Reconfigured in place: the old configuration is dropped, so the connection moves to the new rule.
      c.rule = j;
      c.cfgId = newest.id;
      let segAudit = nr.segment < newest.segments.length && newest.segments[nr.segment].audit;
      if (segAudit) c.flags |= F_AUDIT; else c.flags &= ~F_AUDIT;
      if (nr.frames) startFraming(c, nr);
    }
  }
  if (!admitted) {
    violated(root.metrics, c, R_REVOKED, ccfg);
    if (newest === root.cfg && ccfg !== newest) c.rule = -1; // audit: nothing left to enforce it with
  }
}

/**
 * Whether a rule's protocols admit the connection's protocol. A connection that already
 * carried bytes without being sniffed (its old rule listed no protocols) cannot be sniffed
 * mid-stream: it counts as `unknown`.
 */
function protocolStillAdmitted(c: Conn, protocols: u32): bool {
  let p = c.protocol;
  if (p < 0) {
    if (c.bytesIn == 0 && c.bytesOut == 0) return true; // will be sniffed on its first bytes
    p = P_UNKNOWN;
    c.protocol = P_UNKNOWN;
  }
  return (protocols & ((<u32>1) << <u32>p)) != 0;
}

function refreshWindows(cfg: Config, now: i64): void {
  let rules = cfg.rules;
  for (let i = 0; i < rules.length; i++) {
    let r = rules[i];
    if (r.tz >= 0) r.inWindow = ruleInWindow(cfg, r, now);
  }
}
