// The root context: configuration, the tick, and every enforcement decision.
// Connection callbacks arrive through index.ts and are dispatched here by id.
import { RootContext } from "@solo-io/proxy-runtime/runtime";
import { Config, NONE, Rule, Segment, parseConfig } from "./config";
import { Conn, F_AUDIT, F_CLOSED, F_DECIDED, F_ENDED, F_PENDING, F_SNIFF_LATE, F_SNIFF_SET, F_SNIFF_UP, connFind, connInsert, connNew, connRemove } from "./connection";
import { Decision, logDecision, wouldLog } from "./decisionlog";
import { identity, principal, readFacts, readPluginName, sourceText, destPort, tlsPresent } from "./facts";
import { FrameState, frameAdvance, newFrameState } from "./framing";
import {
  BUF_DOWNSTREAM, BUF_PLUGIN_CONFIG, BUF_UPSTREAM, LOG_DEBUG, LOG_ERROR, LOG_WARN, closeDownstream, continueDownstream, hostGetBuffer,
  hostLen, hostLog, hostPtr, nowMs, NUDGE_BROKEN, nudgeUpstream, releaseHost, setEffectiveContext, setTickPeriod,
} from "./hostcalls";
import { Metrics } from "./metrics";
import {
  addStrike, isQuarantined, leaseGranted, leaseWindowStart, perSourceAdmit, perSourceRelease, perSourceReserve,
} from "./persource";
import {
  R_BYTES_IN, R_BYTES_OUT, R_DURATION, R_MESSAGE_SIZE, R_NO_CONFIG, R_PROTOCOL, R_QUARANTINED, R_REVOKED,
  R_SCHEDULE, R_SOURCE, R_SOURCE_BYTES, isStrike,
} from "./reasons";
import { findSameRule, firstFromRule, fromMatches, portMatches, select, selectedRule, selectOptimistic } from "./rules";
import { ruleInWindow } from "./schedule";
import { P_UNDECIDED, P_UNKNOWN, SNIFF_LIMIT, protocolName, sniff } from "./sniff";

export const CONTINUE: u32 = 0;
export const STOP: u32 = 1;
const TICK_MS: u32 = 500;
/** A TLS connection whose peer principal is still unknown this long after accept is judged without one. */
const PENDING_MAX_MS: i64 = 5000;
const NO_ROOT: u32 = 0xffffffff;
/**
 * Held server bytes are released by pushing Envoy's upstream read buffer past its high watermark
 * (the cluster's per_connection_buffer_limit_bytes, 1 MiB by default) and draining it again
 * (hostcalls.ts nudgeUpstream). A first nudge just past 1 MiB; while the bytes have not come back,
 * each tick tries again four times larger, up to NUDGE_TRIES attempts (past 16 MiB). After that the
 * bytes stay held until the server sends more or closes: never forwarded undecided or uncounted.
 */
const NUDGE_FIRST: u32 = 1048577;
const NUDGE_TRIES: u32 = 3;

/**
 * Highest-generation configuration parsed per plugin_name: what other root contexts of the
 * same plugin re-check their live connections against. Several filter instances may share a
 * plugin_name and a VM with different configurations (two listeners), so only a strictly
 * greater `generation` marks a configuration as a newer version of another.
 */
const newestByPlugin = new Map<string, Config>();

const roots = new Array<PicosegRoot | null>();

export function rootById(id: u32): PicosegRoot | null {
  for (let i = 0; i < roots.length; i++) {
    let r = roots[i];
    if (r !== null && r.context_id == id) return r;
  }
  return null;
}

function rootAt(slot: u32): PicosegRoot | null {
  if (slot >= <u32>roots.length) return null;
  return roots[slot];
}

export function createRoot(id: u32): void {
  if (rootById(id) !== null) return;
  let slot = -1;
  for (let i = 0; i < roots.length; i++) if (roots[i] === null) { slot = i; break; }
  if (slot < 0) { slot = roots.length; roots.push(null); }
  let r = new PicosegRoot(id);
  r.slot = <u32>slot;
  roots[slot] = r;
}

export class PicosegRoot extends RootContext {
  slot: u32 = 0;
  cfg: Config | null = null;
  /** The configuration replaced in place, while its connections are re-bound or revoked by the next tick. */
  prevCfg: Config | null = null;
  /** Newest plugin configuration the live connections were last checked against. */
  checkedCfg: Config | null = null;
  pluginName: string = "";
  metrics: Metrics;
  head: usize = 0; // intrusive list of live connections
  live: u32 = 0;
  deleted: bool = false;

  constructor(id: u32) {
    super(id);
    this.metrics = new Metrics();
  }

  configure(size: u32): void {
    let cfg: Config;
    if (size == 0 || !hostGetBuffer(BUF_PLUGIN_CONFIG, 0, size)) {
      cfg = parseConfig(0, 0);
    } else {
      cfg = parseConfig(hostPtr, hostLen);
      releaseHost();
    }
    if (!cfg.valid && wouldLog(LOG_ERROR)) {
      hostLog(LOG_ERROR, "picoseg: configuration rejected, denying every connection (no-config): " + cfg.error);
    }
    this.pluginName = readPluginName();
    if (this.live > 0 && this.cfg !== null) this.prevCfg = this.cfg;
    else this.checkedCfg = cfg;
    this.cfg = cfg;
    let known = newestByPlugin.has(this.pluginName) ? newestByPlugin.get(this.pluginName) : null;
    if (known === null || cfg.generation >= known.generation) newestByPlugin.set(this.pluginName, cfg);
    setTickPeriod(TICK_MS);
  }

  // ---- connection lifecycle ----

  link(c: Conn): void {
    c.root = this.slot;
    c.next = this.head;
    if (this.head != 0) changetype<Conn>(this.head).prev = changetype<usize>(c);
    this.head = changetype<usize>(c);
    this.live++;
  }

  unlink(c: Conn): void {
    if (c.prev != 0) changetype<Conn>(c.prev).next = c.next;
    else if (this.head == changetype<usize>(c)) this.head = c.next;
    if (c.next != 0) changetype<Conn>(c.next).prev = c.prev;
    c.prev = 0;
    c.next = 0;
    if (this.live > 0) this.live--;
  }

  cfgOf(c: Conn): Config | null {
    let cfg = this.cfg;
    if (cfg !== null && cfg.id == c.cfgId) return cfg;
    let prev = this.prevCfg;
    if (prev !== null && prev.id == c.cfgId) return prev;
    return null;
  }

  /** Gives the connection's unspent per-source lease back to the shared record. */
  releaseLease(c: Conn): void {
    if (c.lease == 0 || c.psKey == 0) return;
    let r = ruleIn(this.cfgOf(c), c);
    if (r !== null) perSourceRelease(c.psKey, <usize>c.psKeyLen, r as Rule, c.lease, c.leaseWindow, nowMs());
    c.lease = 0;
  }

  // ---- decisions ----

  /**
   * A violation (or, in audit mode, a would-be violation) on connection c, whose
   * context is effective. Returns true when the connection was closed.
   */
  violate(c: Conn, reason: i32, cfg: Config | null, ruleIdx: i32, audit: bool, strikeRule: i32): bool {
    if (audit) {
      let bit: u32 = (<u32>1) << <u32>reason;
      if ((c.auditLogged & bit) != 0) return false;
      c.auditLogged |= bit;
    } else {
      c.flags |= F_CLOSED;
      closeDownstream();
    }
    this.metrics.countDecision(reason, audit);
    // Strikes go to the segment of the rule involved (for `port`, the first rule whose `from` matched).
    let strikeSeg: Segment | null = null;
    if (isStrike(reason) && cfg !== null && strikeRule >= 0 && strikeRule < cfg.rules.length) {
      let r = cfg.rules[strikeRule];
      if (r.segment < cfg.segments.length && cfg.segments[r.segment].quarantineStrikes > 0) strikeSeg = cfg.segments[r.segment];
    }
    // Deny and audit lines print at warn; the facts (read again: the caller's may be another
    // connection's) serve only the line and the strike's identity.
    let log = wouldLog(LOG_WARN);
    if (!log && strikeSeg === null) return !audit;
    readFacts();
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
      if (cfg !== null && ruleIdx >= 0 && ruleIdx < cfg.rules.length) {
        let r = cfg.rules[ruleIdx];
        d.rule = r.name;
        if (r.segment < cfg.segments.length) d.segment = cfg.segments[r.segment].name;
      }
      logDecision(d);
    }
    if (strikeSeg !== null) addStrike(quarantineKey(strikeSeg as Segment), strikeSeg as Segment, nowMs());
    return !audit;
  }

  /**
   * proxy_on_new_connection. Envoy calls it before the TLS handshake, so the peer
   * principal is not known yet: when a rule depends on it, admission waits for the first
   * downstream data (always after the handshake), a known principal, or PENDING_MAX_MS.
   */
  newConnection(c: Conn): u32 {
    if ((c.flags & (F_DECIDED | F_PENDING)) != 0) return (c.flags & F_CLOSED) != 0 ? STOP : CONTINUE;
    let now = nowMs();
    c.startMs = now;
    let cfg = this.cfg;
    if (cfg === null || !cfg.valid) return this.decide(c, now); // no-config: judged without facts
    readFacts();
    // Pending only if some principal could still admit it: a source no rule's `from`
    // matches, whatever the principal, is denied now.
    if (cfg.hasPrincipalRules && principal.length == 0 && tlsPresent && selectOptimistic(cfg as Config) != R_SOURCE) {
      c.flags |= F_PENDING;
      c.port = destPort;
      return CONTINUE;
    }
    return this.decide(c, now);
  }

  /**
   * Admission: rule selection, quarantine, schedule, perSource. Sets F_DECIDED. The caller has
   * just read c's facts (readFacts, in c's context), unless the configuration is invalid.
   */
  decide(c: Conn, now: i64): u32 {
    c.flags = (c.flags | F_DECIDED) & ~F_PENDING;
    let cfg = this.cfg;
    if (cfg === null || !cfg.valid) {
      this.violate(c, R_NO_CONFIG, null, -1, false, -1);
      return STOP;
    }
    c.port = destPort;
    let reason = select(cfg);
    if (reason >= 0) {
      // No governing rule: audit only when every segment is in audit mode.
      let audit = cfg.allAudit;
      let closed = this.violate(c, reason, cfg, firstFromRule, audit, firstFromRule);
      if (!closed) this.metrics.countAllowed();
      return closed ? STOP : CONTINUE;
    }
    let ri = selectedRule;
    let r = cfg.rules[ri];
    let seg = cfg.segments[r.segment];
    c.rule = ri;
    c.cfgId = cfg.id;
    let audit = seg.audit;
    if (audit) c.flags |= F_AUDIT;
    if (seg.quarantineStrikes > 0 && isQuarantined(quarantineKey(seg), now)) {
      if (this.violate(c, R_QUARANTINED, cfg, ri, audit, -1)) return STOP;
    }
    if (!ruleInWindow(cfg, r, now)) {
      if (this.violate(c, R_SCHEDULE, cfg, ri, audit, -1)) return STOP;
    }
    if (r.hasPerSource) {
      let key = String.UTF8.encode(perSourceKey(seg, r));
      let ps = perSourceAdmit(key, r, c.port, now);
      if (ps >= 0 && this.violate(c, ps, cfg, ri, audit, ri)) return STOP;
      if (r.psMaxBytes != NONE) {
        c.psKeyLen = <u32>key.byteLength;
        c.psKey = heap.alloc(<usize>key.byteLength);
        memory.copy(c.psKey, changetype<usize>(key), <usize>key.byteLength);
      }
    }
    if (r.maxMessageBytes != NONE) {
      c.frameIn = newFrameState();
      c.frameOut = newFrameState();
    }
    // The protocol of server bytes held while admission waited (server-first protocols).
    if (c.protocol >= 0 && r.protocols != 0 && (r.protocols & ((<u32>1) << <u32>c.protocol)) == 0) {
      if (this.violate(c, R_PROTOCOL, cfg, ri, audit, ri)) return STOP;
    }
    this.metrics.countAllowed();
    if (wouldLog(LOG_DEBUG)) {
      let d = new Decision();
      d.verdict = "allow";
      d.connection = c.id;
      d.segment = seg.name;
      d.rule = r.name;
      d.source = sourceText;
      d.principal = principal;
      d.port = destPort;
      d.mode = audit ? "audit" : "enforce";
      logDecision(d);
    }
    return CONTINUE;
  }

  data(c: Conn, size: u32, end: bool, upstream: bool): u32 {
    if ((c.flags & F_DECIDED) == 0) {
      // Data before proxy_on_new_connection: judge admission first, never forward undecided.
      if ((c.flags & F_PENDING) == 0 && this.newConnection(c) == STOP) return STOP;
      if ((c.flags & F_PENDING) != 0) {
        readFacts();
        // Client bytes come after the handshake, so the principal is final now; server
        // bytes may come before it.
        if (upstream && principal.length == 0) return this.pendingUpstream(c, size, end);
        if (this.decide(c, nowMs()) == STOP) return STOP;
        // Decided at the client's first bytes: server bytes held meanwhile are released now.
        if (!upstream) this.releaseHeldOut(c);
      }
    }
    // The host hands over the whole held buffer again: it is judged below like any new bytes.
    if (upstream) c.waitingOut = 0;
    if ((c.flags & F_CLOSED) != 0) return STOP;
    if (c.rule < 0) return CONTINUE; // admitted without a rule (audit-mode selection failure): nothing to enforce
    let cfg = this.cfgOf(c);
    let r = ruleIn(cfg, c);
    if (cfg === null || r === null) {
      // Its configuration was replaced twice before a tick could re-check it.
      this.violate(c, R_REVOKED, null, -1, (c.flags & F_AUDIT) != 0, -1);
      if ((c.flags & F_CLOSED) != 0) return STOP;
      c.rule = -1;
      return CONTINUE;
    }
    let rule = r as Rule;
    let audit = (c.flags & F_AUDIT) != 0;
    let held = upstream ? c.heldOut : c.heldIn;
    if (size < held) held = size; // the host's buffer shrank: never count negative bytes
    let fresh = <u64>(size - held);
    let bufType = upstream ? BUF_UPSTREAM : BUF_DOWNSTREAM;

    // Protocol first: decided on the first bytes of whichever direction speaks first, before
    // budgets and framing judge bytes of a protocol the rule may not even admit.
    // An empty read (e.g. a bare half-close) does not make its direction the first speaker.
    if (rule.protocols != 0 && c.protocol < 0 && (size > 0 || (c.flags & F_SNIFF_SET) != 0)) {
      if ((c.flags & F_SNIFF_SET) == 0) {
        c.flags |= F_SNIFF_SET;
        if (upstream) c.flags |= F_SNIFF_UP;
      }
      let sniffUp = (c.flags & F_SNIFF_UP) != 0;
      if (sniffUp == upstream) {
        let proto = sniffBuffer(bufType, size, end || (c.flags & F_SNIFF_LATE) != 0, upstream);
        // Undecided: hold everything and count nothing yet (`held` stays at what was
        // already counted), so budgets and framing see these bytes once it is decided.
        if (proto == P_UNDECIDED) return STOP;
        c.protocol = proto;
        if ((rule.protocols & ((<u32>1) << <u32>proto)) == 0) {
          if (this.violate(c, R_PROTOCOL, cfg, c.rule, audit, c.rule)) return STOP;
        }
      }
    }

    // Byte budget: the read that would pass it is not forwarded.
    let total: u64;
    let max: u64;
    if (upstream) { total = c.bytesOut + fresh; c.bytesOut = total; max = rule.maxBytesOut; }
    else { total = c.bytesIn + fresh; c.bytesIn = total; max = rule.maxBytesIn; }
    if (total > max) {
      if (this.violate(c, upstream ? R_BYTES_OUT : R_BYTES_IN, cfg, c.rule, audit, c.rule)) return STOP;
    }

    // Message size under the rule's framing.
    if (rule.maxMessageBytes != NONE && fresh > 0) {
      let stp = upstream ? c.frameOut : c.frameIn;
      if (stp != 0) {
        let st = changetype<FrameState>(stp);
        if (!frameAdvance(rule, st, bufType, held, size)) {
          if (this.violate(c, R_MESSAGE_SIZE, cfg, c.rule, audit, c.rule)) return STOP;
          st.pos = 0; st.len = 0; st.value = 0; // audit: resynchronise at the next read
        }
      }
    }

    // Per-source volume across connections and workers: spend the connection's lease,
    // reserve more from the shared record only when it runs out.
    if (c.psKey != 0 && fresh > 0) {
      if (c.lease >= fresh) {
        c.lease -= fresh;
      } else if (perSourceReserve(c.psKey, <usize>c.psKeyLen, rule, fresh - c.lease, fresh, c.leaseWindow, nowMs())) {
        c.lease = leaseGranted;
        c.leaseWindow = leaseWindowStart;
      } else if (this.violate(c, R_SOURCE_BYTES, cfg, c.rule, audit, c.rule)) {
        return STOP;
      }
    }

    if (upstream) c.heldOut = 0; else c.heldIn = 0;
    return CONTINUE;
  }

  /**
   * Server bytes while admission waits for the handshake: held (StopIteration) and not counted, so
   * that an unadmitted peer never receives one of them and a budget counts them exactly once. They are
   * sniffed (read, not forwarded), so that admission can judge the protocol the server speaks. When
   * admission is decided (client bytes, or a tick once the principal is readable), a denied connection
   * is closed with them still held; an admitted one has Envoy deliver the held buffer again
   * (releaseHeldOut), and data() then judges it like any server bytes: budget, framing, perSource.
   */
  pendingUpstream(c: Conn, size: u32, end: bool): u32 {
    c.waitingOut = size;
    if (c.protocol < 0 && (size > 0 || (c.flags & F_SNIFF_SET) != 0)) {
      if ((c.flags & F_SNIFF_SET) == 0) c.flags |= F_SNIFF_SET | F_SNIFF_UP;
      if ((c.flags & F_SNIFF_UP) != 0) {
        let proto = sniffBuffer(BUF_UPSTREAM, size, end, true);
        if (proto != P_UNDECIDED) c.protocol = proto;
      }
    }
    return STOP;
  }

  /**
   * After admission, in the connection's context: asks Envoy to deliver the server bytes held while
   * admission waited (see NUDGE_FIRST). A host that refuses leaves them held (they come with the
   * server's next bytes, judged then); one that took the filler but would not drain it again has a
   * corrupted stream, which is closed (logged at error: no policy decision, audit mode included).
   */
  releaseHeldOut(c: Conn): void {
    if (c.waitingOut == 0 || (c.flags & (F_CLOSED | F_ENDED | F_PENDING)) != 0) return;
    if (c.nudges >= NUDGE_TRIES) return;
    let fill: u32 = NUDGE_FIRST;
    for (let i: u32 = 0; i < c.nudges; i++) fill = (fill - 1) * 4 + 1;
    c.nudges++;
    if (nudgeUpstream(fill) == NUDGE_BROKEN) {
      c.flags |= F_CLOSED;
      closeDownstream();
      if (wouldLog(LOG_ERROR)) {
        hostLog(LOG_ERROR, "picoseg: the host refused to restore a held server buffer; closing connection " + c.id.toString());
      }
    }
  }

  /**
   * The sniff deadline passed with the first direction's protocol still undecided (say a client
   * that sent one byte and waits for an answer). In c's context, from the tick: the protocol is
   * decided on the bytes held now, as at end of stream. Admitted client bytes are judged by
   * data() (budget, framing, perSource) and handed to the next filter (proxy_continue_stream);
   * admitted server bytes are released the way bytes held while pending are (releaseHeldOut),
   * and data() judges them when Envoy delivers them again.
   */
  sniffExpired(c: Conn, cfg: Config, rule: Rule): void {
    c.flags |= F_SNIFF_LATE;
    let upstream = (c.flags & F_SNIFF_UP) != 0;
    let bufType = upstream ? BUF_UPSTREAM : BUF_DOWNSTREAM;
    let size: u32 = 0;
    if (hostGetBuffer(bufType, 0, SNIFF_LIMIT)) {
      size = <u32>hostLen; // < SNIFF_LIMIT: a full prefix would have been decided
      releaseHost();
    }
    if (!upstream) {
      if (this.data(c, size, false, false) == CONTINUE) continueDownstream();
      return;
    }
    c.protocol = sniffBuffer(bufType, size, true, true);
    if ((rule.protocols & ((<u32>1) << <u32>c.protocol)) == 0) {
      if (this.violate(c, R_PROTOCOL, cfg, c.rule, (c.flags & F_AUDIT) != 0, c.rule)) return;
    }
    if (size > 0) {
      c.waitingOut = size;
      this.releaseHeldOut(c);
    }
  }

  // ---- the tick: duration, schedule, revocation ----

  tick(): void {
    let now = nowMs();
    let cfg = this.cfg;
    if (cfg !== null) refreshWindows(cfg as Config, now);
    let prev = this.prevCfg;
    if (prev !== null) refreshWindows(prev as Config, now);
    // What the live connections must still be admitted by: this root's own new configuration
    // after an in-place reconfigure, else a newer generation of this plugin from another root.
    let newest: Config | null = null;
    if (prev !== null) {
      newest = cfg;
    } else if (cfg !== null && newestByPlugin.has(this.pluginName)) {
      let n = newestByPlugin.get(this.pluginName);
      if (n !== cfg && n.generation > cfg.generation) newest = n;
    }
    let recheck = newest !== null && (newest !== this.checkedCfg || prev !== null);
    let p = this.head;
    while (p != 0) {
      let c = changetype<Conn>(p);
      p = c.next; // c may be closed below, never freed here
      if ((c.flags & (F_CLOSED | F_ENDED)) != 0) continue;
      if ((c.flags & F_PENDING) != 0) {
        // Decide once the handshake revealed the principal, or when waiting has gone on too long.
        setEffectiveContext(c.id);
        readFacts();
        if (principal.length > 0 || now - c.startMs >= PENDING_MAX_MS) {
          if (this.decide(c, now) == CONTINUE) this.releaseHeldOut(c);
        }
        continue;
      }
      if (c.waitingOut > 0) {
        // Admitted, and the held server bytes have not come back since the last nudge.
        setEffectiveContext(c.id);
        this.releaseHeldOut(c);
      }
      if (c.rule < 0) continue;
      let ccfg = this.cfgOf(c);
      let r = ruleIn(ccfg, c);
      let audit = (c.flags & F_AUDIT) != 0;
      if (ccfg === null || r === null) {
        setEffectiveContext(c.id);
        this.violate(c, R_REVOKED, null, -1, audit, -1);
        continue;
      }
      let rule = r as Rule;
      // Checked here, not per byte: the data path never looks at the clock for sniffing.
      if (c.protocol < 0 && (c.flags & F_SNIFF_SET) != 0 && rule.protocols != 0 &&
          now - c.startMs >= <i64>min(rule.sniffTimeoutMs, 9007199254740991)) {
        setEffectiveContext(c.id);
        this.sniffExpired(c, ccfg as Config, rule);
        if ((c.flags & F_CLOSED) != 0) continue;
      }
      // A lease from a past per-source window must not be spent in the next one.
      if (c.lease > 0 && now - c.leaseWindow >= <i64>min(rule.psWindowS, 9007199254740) * 1000) c.lease = 0;
      if (rule.maxDurationS != NONE && now - c.startMs >= <i64>min(rule.maxDurationS, 9007199254740) * 1000) {
        setEffectiveContext(c.id);
        if (this.violate(c, R_DURATION, ccfg, c.rule, audit, -1)) continue;
      }
      if (!rule.inWindow) {
        setEffectiveContext(c.id);
        if (this.violate(c, R_SCHEDULE, ccfg, c.rule, audit, -1)) continue;
      }
      if (recheck) this.recheck(c, ccfg as Config, rule, newest as Config, now);
    }
    if (newest !== null) this.checkedCfg = newest;
    this.prevCfg = null;
    setEffectiveContext(this.context_id);
    __collect(); // free cyclic garbage of the managed heap (AS 0.17 never does it by itself)
  }

  /** Revocation: is c still admitted by the same-named rule of the newest configuration? */
  recheck(c: Conn, ccfg: Config, rule: Rule, newest: Config, now: i64): void {
    setEffectiveContext(c.id);
    let audit = (c.flags & F_AUDIT) != 0;
    if (!newest.valid) {
      this.violate(c, R_REVOKED, ccfg, c.rule, audit, -1);
      return;
    }
    readFacts();
    let segName = rule.segment < ccfg.segments.length ? ccfg.segments[rule.segment].name : "";
    let j = findSameRule(newest, segName, rule.name);
    let admitted = j >= 0;
    if (admitted) {
      let nr = newest.rules[j];
      if (!fromMatches(nr) || !portMatches(nr)) admitted = false;
      else if (nr.protocols != 0 && !protocolStillAdmitted(c, nr.protocols)) admitted = false;
      else if (!ruleInWindow(newest, nr, now)) admitted = false;
      if (admitted && newest === this.cfg && ccfg !== newest) {
        // Reconfigured in place: the old configuration is dropped, so the connection moves to the new rule.
        c.rule = j;
        c.cfgId = newest.id;
        let segAudit = nr.segment < newest.segments.length && newest.segments[nr.segment].audit;
        if (segAudit) c.flags |= F_AUDIT; else c.flags &= ~F_AUDIT;
        if (nr.maxMessageBytes != NONE && c.frameIn == 0) { c.frameIn = newFrameState(); c.frameOut = newFrameState(); }
      }
    }
    if (!admitted) {
      this.violate(c, R_REVOKED, ccfg, c.rule, audit, -1);
      if (newest === this.cfg && ccfg !== newest) c.rule = -1; // audit: nothing left to enforce it with
    }
  }
}

/**
 * The protocol of the first bytes (at most SNIFF_LIMIT) of the host buffer `bufType`, holding
 * `size` bytes: P_UNDECIDED while more bytes could still decide it, P_UNKNOWN when the host
 * refuses the read.
 */
function sniffBuffer(bufType: i32, size: u32, end: bool, upstream: bool): i32 {
  let n = size < SNIFF_LIMIT ? size : SNIFF_LIMIT;
  let final = size >= SNIFF_LIMIT || end;
  let proto = P_UNKNOWN;
  if (hostGetBuffer(bufType, 0, n)) {
    proto = sniff(hostPtr, hostLen, upstream, final || hostLen < <usize>n);
    releaseHost();
  }
  return proto;
}

/** c's governing rule in cfg, its own configuration (cfgOf); null when it has none or it is gone. */
function ruleIn(cfg: Config | null, c: Conn): Rule | null {
  if (c.rule < 0 || cfg === null) return null;
  let rules = (cfg as Config).rules;
  return c.rule < rules.length ? rules[c.rule] : null;
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

function perSourceKey(seg: Segment, r: Rule): string {
  return "picoseg/ps/" + seg.name + "/" + r.name + "/" + identity();
}

function quarantineKey(seg: Segment): ArrayBuffer {
  return String.UTF8.encode("picoseg/q/" + seg.name + "/" + identity());
}

// ---- dispatch from the exports ----

export function contextCreate(id: u32, rootId: u32): void {
  if (rootId == 0) {
    createRoot(id);
    return;
  }
  if (connFind(id) != 0) return;
  let c = connNew(id);
  connInsert(c);
  let root = rootById(rootId);
  if (root !== null) root.link(c);
  else c.root = NO_ROOT;
}

/**
 * The live root of connection c, else null after closing c: a connection whose root is gone
 * fails closed. Unknown ids are closed by the callers (connFind gave 0).
 */
function liveRoot(c: Conn): PicosegRoot | null {
  let root = rootAt(c.root);
  if (root === null) {
    c.flags |= F_CLOSED;
    closeDownstream();
  }
  return root;
}

export function newConnection(id: u32): u32 {
  let p = connFind(id);
  if (p == 0) { closeDownstream(); return STOP; }
  let c = changetype<Conn>(p);
  let root = liveRoot(c);
  return root === null ? STOP : root.newConnection(c);
}

export function connectionData(id: u32, size: u32, end: bool, upstream: bool): u32 {
  let p = connFind(id);
  if (p == 0) { closeDownstream(); return STOP; }
  let c = changetype<Conn>(p);
  let root = liveRoot(c);
  return root === null ? STOP : root.data(c, size, end, upstream);
}

export function connectionClosed(id: u32): void {
  let p = connFind(id);
  if (p != 0) changetype<Conn>(p).flags |= F_ENDED;
}

export function contextDelete(id: u32): void {
  let p = connFind(id);
  if (p != 0) {
    let c = changetype<Conn>(p);
    let root = rootAt(c.root);
    if (root !== null) {
      root.releaseLease(c);
      root.unlink(c);
      if (root.deleted && root.live == 0) roots[root.slot] = null;
    }
    connRemove(c);
    return;
  }
  let root = rootById(id);
  if (root !== null) {
    root.deleted = true;
    if (root.live == 0) roots[root.slot] = null;
  }
}

export function configure(rootId: u32, size: u32): void {
  let root = rootById(rootId);
  if (root === null) {
    createRoot(rootId);
    root = rootById(rootId);
  }
  if (root !== null) root.configure(size);
}

export function tick(rootId: u32): void {
  let root = rootById(rootId);
  if (root !== null) root.tick();
}
