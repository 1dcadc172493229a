// Admission: decide a new connection once, at proxy_on_new_connection or, for a TLS
// connection whose principal matters, once the handshake has revealed it. Steps: rule
// selection, quarantine, schedule, perSource, the protocol of server bytes held meanwhile.
// A new admission check: a step in decide() with its reason (reasons.ts) and tests.
import { Config, NONE } from "./config";
import { Conn, F_AUDIT, F_CLOSED, F_DECIDED, F_PENDING, F_PENDING_SNI } from "./connection";
import { destPort, principal, readFacts, tlsPresent, useServerNameOf } from "./facts";
import { startFraming } from "./framing";
import { CONTINUE, STOP, nowMs } from "./hostcalls";
import { learnStash, observing } from "./learning";
import { R_NO_CONFIG, R_PROTOCOL, R_QUARANTINED, R_SCHEDULE, R_SOURCE } from "./reasons";
import { PicosegRoot } from "./root";
import { select, selectedRule, selectOptimistic } from "./rules";
import { ruleInWindow } from "./schedule";
import {
  SOURCE_PLACE_BYTES, chosenSlot, evicted, isQuarantined, keepSourcePlace, perSourceAdmit, sourceSlots,
} from "./sharedrecords";
import { logAdmitted, refused, violated } from "./verdict";

/**
 * proxy_on_new_connection. Envoy calls it before the TLS handshake, so the peer
 * principal is not known yet: when a rule depends on it, admission waits (F_PENDING) for the
 * first client bytes (always after the handshake, datapath.ts), a known principal, or the
 * tick's deadline (tick.ts).
 */
export function newConnection(root: PicosegRoot, c: Conn): u32 {
  if ((c.flags & (F_DECIDED | F_PENDING)) != 0) return (c.flags & F_CLOSED) != 0 ? STOP : CONTINUE;
  let now = nowMs();
  c.startMs = now;
  let cfg = root.cfg;
  if (cfg === null || !cfg.valid) return decide(root, c, now); // no-config: judged without facts
  readFacts();
  // Pending only if some principal or server name could still admit it: a source no rule's
  // `from` matches, whatever they are, is denied now.
  let waitPrincipal = cfg.hasPrincipalRules && principal.length == 0 && tlsPresent;
  if ((waitPrincipal || cfg.hasServerNameRules) && selectOptimistic(cfg as Config) != R_SOURCE) {
    c.flags |= F_PENDING;
    if (cfg.hasServerNameRules) c.flags |= F_PENDING_SNI;
    c.port = destPort;
    return CONTINUE;
  }
  return decide(root, c, now);
}

/**
 * Sets F_DECIDED and returns the action for the callback. The caller has just read c's facts
 * (readFacts, in c's context), unless the configuration is invalid.
 */
export function decide(root: PicosegRoot, c: Conn, now: i64): u32 {
  c.flags = (c.flags | F_DECIDED) & ~(F_PENDING | F_PENDING_SNI);
  let metrics = root.metrics;
  let cfg = root.cfg;
  if (cfg === null || !cfg.valid) {
    refused(metrics, c, R_NO_CONFIG, null);
    return STOP;
  }
  c.port = destPort;
  useServerNameOf(c);
  let reason = select(cfg);
  if (reason >= 0) {
    let closed = refused(metrics, c, reason, cfg);
    if (!closed) {
      metrics.countAllowed();
      if (observing) {
        readFacts(); // refused() may have read another connection's facts, or none
        c.obs = learnStash(null);
      }
    }
    return closed ? STOP : CONTINUE;
  }
  let ri = selectedRule;
  let r = cfg.rules[ri];
  let seg = cfg.segments[r.segment];
  c.rule = ri;
  c.cfgId = cfg.id;
  if (seg.audit) c.flags |= F_AUDIT;
  if (seg.quarantineStrikes > 0 && isQuarantined(seg, now)) {
    if (violated(metrics, c, R_QUARANTINED, cfg)) return STOP;
  }
  if (!ruleInWindow(cfg, r, now)) {
    if (violated(metrics, c, R_SCHEDULE, cfg)) return STOP;
  }
  if (r.hasPerSource) {
    let slots = sourceSlots(seg, r);
    let ps = perSourceAdmit(slots, r, c.port, now);
    if (evicted) metrics.countEviction();
    if (ps >= 0 && violated(metrics, c, ps, cfg)) return STOP;
    if (r.psMaxBytes != NONE) {
      // Kept for the data path's byte reservations.
      c.psKey = keepSourcePlace(slots.id, chosenSlot);
      c.psKeyLen = <u32>SOURCE_PLACE_BYTES;
    }
  }
  if (r.frames) startFraming(c, r);
  // The protocol of server bytes held while admission waited (server-first protocols).
  if (c.protocol >= 0 && r.protocols != 0 && (r.protocols & ((<u32>1) << <u32>c.protocol)) == 0) {
    if (violated(metrics, c, R_PROTOCOL, cfg)) return STOP;
  }
  metrics.countAllowed();
  logAdmitted(c, cfg, ri);
  if (observing) c.obs = learnStash(r);
  return CONTINUE;
}
