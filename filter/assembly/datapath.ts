// The data path: one read of one direction (proxy_on_downstream_data / proxy_on_upstream_data),
// and the bytes it holds back while undecided. onData() judges a read in these steps, in order:
//   1. admission  only while undecided (admission.ts): data that comes before
//                 proxy_on_new_connection runs it first; a pending connection is decided at the
//                 client's first bytes, after its ClientHello's server name (readServerName, for
//                 rules with serverNames); server bytes before then are held uncounted (pendingUpstream)
//   2. sniff      the protocol of the first direction to speak (sniffStep); HOLD until decided
//   3. budget     maxBytesIn / maxBytesOut over the read's new bytes (budgetStep)
//   4. framing    message sizes under the rule's framing (framingStep; wireStep for postgres, mqtt, kafka)
//   5. per-source the source's bytes across connections and workers (perSourceStep)
// Each step answers PASS, HOLD or a violation's reason, which onData() turns into a verdict
// (verdict.ts: closed, or in audit mode logged and the read goes on); a read is forwarded
// (CONTINUE) only when every step let it through. The steps read the buffer only through a
// ByteView (the few bytes sniffing and framing need); budgets use sizes.
// Held bytes are let go at the end of this file, in the connection's context (from the data
// path or the tick): the server bytes held while admission waited (releaseHeldOut), and a
// protocol still undecided at the sniff deadline (sniffExpired).
// A new per-read check: a step function here, called from onData() in its place.
import { ByteView, newByteView } from "./byteview";
import { Config, Rule } from "./config";
import {
  Conn, F_CLOSED, F_DECIDED, F_ENDED, F_MQTT_ID_SEEN, F_PENDING, F_PENDING_SNI, F_SNIFF_LATE, F_SNIFF_SET, F_SNIFF_UP, F_WIRE,
} from "./connection";
import { wouldLog } from "./decisionlog";
import { principal, readFacts } from "./facts";
import { FrameState, frameAdvance, resetFrame, stopWireFraming, wireFrame } from "./framing";
import {
  BUF_DOWNSTREAM, BUF_UPSTREAM, CONTINUE, LOG_ERROR, NUDGE_BROKEN, STOP, closeDownstream, continueDownstream, fillFromHost,
  forgetFetched, hostLog, nowMs, nudgeUpstream, releaseToHost,
} from "./hostcalls";
import { learnMessages, learnRead } from "./learning";
import { Metrics } from "./metrics";
import { decide, newConnection } from "./admission";
import { leaseGranted, leaseWindowStart } from "./persource";
import { R_BYTES_IN, R_BYTES_OUT, R_MESSAGE_SIZE, R_PROTOCOL, R_REVOKED, R_SOURCE, R_SOURCE_BYTES } from "./reasons";
import { clientIdAdmitted } from "./rules";
import { WireState, WIRE_MALFORMED, WIRE_OK, WIRE_PUBLISH_TOO_BIG, largestMessage } from "./wire/cursor";
import { ID_NONE, ID_READ, mqttClientId } from "./wire/mqtt";
import { SNI_MALFORMED, SNI_MORE, SNI_RECORD_MAX, sniOffset, tlsServerName } from "./wire/tls";
import { PicosegRoot, ruleIn } from "./root";
import { P_UNDECIDED, SNIFF_LIMIT, sniffView } from "./sniff";
import { perSourceReserve } from "./sharedrecords";
import { violated, violatedField } from "./verdict";

/** The two directions' buffers, read from the host only as far as a step asks. */
const clientBytes: ByteView = newByteView(fillFromHost, releaseToHost, <usize>BUF_DOWNSTREAM);
const serverBytes: ByteView = newByteView(fillFromHost, releaseToHost, <usize>BUF_UPSTREAM);

/**
 * Admission waits for the ClientHello's server name (rules with serverNames): holds the client's
 * bytes until its first TLS record is whole, then keeps the name with the connection. False
 * while holding. A stream that is not TLS, or a ClientHello without a name, has none.
 */
function readServerName(c: Conn, size: u32, end: bool): bool {
  let n = size < SNI_RECORD_MAX ? size : SNI_RECORD_MAX;
  let found = SNI_MALFORMED;
  if (clientBytes.fill(clientBytes, 0, n)) {
    found = tlsServerName(clientBytes.ptr, clientBytes.len);
    if (found >= 0) {
      c.sni = heap.alloc(4 + <usize>found);
      store<u32>(c.sni, <u32>found);
      memory.copy(c.sni + 4, clientBytes.ptr + sniOffset, <usize>found);
    }
    clientBytes.release(clientBytes);
  }
  if (found == SNI_MORE && !end && size < SNI_RECORD_MAX) return false;
  c.flags &= ~F_PENDING_SNI;
  return true;
}

/** A step's answer: the read may go on to the next step. */
const PASS: i32 = -1;
/** A step's answer: hold the read (StopIteration) without counting it, undecided yet. */
const HOLD: i32 = -2;

function metricsOf(rootRef: usize): Metrics {
  return changetype<PicosegRoot>(rootRef).metrics;
}

function bytesOf(upstream: bool): ByteView {
  return upstream ? serverBytes : clientBytes;
}

/**
 * proxy_on_downstream_data / proxy_on_upstream_data: `size` is the whole buffer, held bytes
 * included. `rootRef` is c's PicosegRoot by address: asc 0.17 retains and releases a managed
 * argument on every call, which the bench sees on every read.
 */
export function onData(rootRef: usize, c: Conn, size: u32, end: bool, upstream: bool): u32 {
  forgetFetched(); // the host's buffers changed since the last callback
  if ((c.flags & F_DECIDED) == 0) {
    // Data before proxy_on_new_connection: judge admission first, never forward undecided.
    if ((c.flags & F_PENDING) == 0 && newConnection(changetype<PicosegRoot>(rootRef), c) == STOP) return STOP;
    if ((c.flags & F_PENDING) != 0) {
      readFacts();
      // Client bytes come after the handshake, so the principal is final now; server
      // bytes may come before it, and before the client's server name.
      if (upstream && (principal.length == 0 || (c.flags & F_PENDING_SNI) != 0)) return pendingUpstream(c, size, end);
      if ((c.flags & F_PENDING_SNI) != 0 && !readServerName(c, size, end)) return STOP;
      if (decide(changetype<PicosegRoot>(rootRef), c, nowMs()) == STOP) return STOP;
      // Decided at the client's first bytes: server bytes held meanwhile are released now.
      if (!upstream) releaseHeldOut(c);
    }
  }
  // The host hands over the whole held buffer again: it is judged below like any new bytes.
  if (upstream) c.waitingOut = 0;
  if ((c.flags & F_CLOSED) != 0) return STOP;
  if (c.rule < 0) return CONTINUE; // admitted without a rule (audit-mode selection failure): nothing to enforce
  let cfg = changetype<PicosegRoot>(rootRef).cfgOf(c);
  let r = ruleIn(cfg, c);
  if (cfg === null || r === null) {
    // Its configuration was replaced twice before a tick could re-check it.
    violated(metricsOf(rootRef), c, R_REVOKED, null);
    if ((c.flags & F_CLOSED) != 0) return STOP;
    c.rule = -1;
    return CONTINUE;
  }
  let rule = r as Rule;
  let held = upstream ? c.heldOut : c.heldIn;
  if (size < held) held = size; // the host's buffer shrank: never count negative bytes
  let fresh = <u64>(size - held);
  if (c.obs != 0) learnRead(c.obs, fresh);
  // The steps, in order. Each answers PASS, HOLD or the reason of a violation, which closes the
  // connection here (audit mode: logs it and goes on). They take the rule's fields (or its
  // address), not the Rule: asc 0.17 retains and releases every managed argument, per read.
  let verdict = rule.protocols != 0 ? sniffStep(c, rule.protocols, size, end, upstream) : PASS;
  if (verdict == HOLD) return STOP;
  if (verdict >= 0 && violated(metricsOf(rootRef), c, verdict, cfg)) return STOP;
  verdict = budgetStep(c, fresh, upstream ? rule.maxBytesOut : rule.maxBytesIn, upstream);
  if (verdict >= 0 && violated(metricsOf(rootRef), c, verdict, cfg)) return STOP;
  if (rule.frames && fresh > 0) {
    // The connection's states say how it is framed (a reconfigured rule may name another framing).
    verdict = (c.flags & F_WIRE) != 0
      ? wireStep(c, changetype<usize>(rule), held, size, upstream)
      : framingStep(c, changetype<usize>(rule), held, size, upstream);
    if (verdict >= 0 && violatedField(metricsOf(rootRef), c, verdict, cfg, stepField)) return STOP;
  }
  if (c.psKey != 0 && fresh > 0) {
    verdict = perSourceStep(c, changetype<usize>(rule), fresh);
    if (verdict >= 0 && violated(metricsOf(rootRef), c, verdict, cfg)) return STOP;
  }
  if (upstream) c.heldOut = 0; else c.heldIn = 0;
  return CONTINUE;
}

/**
 * Whether this direction is the one sniffed: the first to send bytes claims it. An empty read
 * (e.g. a bare half-close) does not make its direction the first speaker.
 */
function sniffsThisDirection(c: Conn, size: u32, upstream: bool): bool {
  if (c.protocol >= 0 || (size == 0 && (c.flags & F_SNIFF_SET) == 0)) return false;
  if ((c.flags & F_SNIFF_SET) == 0) c.flags |= upstream ? F_SNIFF_SET | F_SNIFF_UP : F_SNIFF_SET;
  return ((c.flags & F_SNIFF_UP) != 0) == upstream;
}

/**
 * Protocol first: decided on the first bytes of whichever direction speaks first, before
 * budgets and framing judge bytes of a protocol the rule may not even admit. Undecided:
 * HOLD, counting nothing yet (`held` stays at what was already counted), so budgets and
 * framing see these bytes once it is decided.
 */
function sniffStep(c: Conn, protocols: u32, size: u32, end: bool, upstream: bool): i32 {
  if (!sniffsThisDirection(c, size, upstream)) return PASS;
  let proto = sniffView(bytesOf(upstream), size, upstream, end || (c.flags & F_SNIFF_LATE) != 0);
  if (proto == P_UNDECIDED) return HOLD;
  c.protocol = proto;
  return (protocols & ((<u32>1) << <u32>proto)) == 0 ? R_PROTOCOL : PASS;
}

/** Byte budget: the read that would pass it is not forwarded. */
function budgetStep(c: Conn, fresh: u64, max: u64, upstream: bool): i32 {
  if (upstream) {
    c.bytesOut += fresh;
    return c.bytesOut > max ? R_BYTES_OUT : PASS;
  }
  c.bytesIn += fresh;
  return c.bytesIn > max ? R_BYTES_IN : PASS;
}

/** Message size under the rule's framing (`rule`: a Rule), over this read's new bytes [held, size). */
function framingStep(c: Conn, rule: usize, held: u32, size: u32, upstream: bool): i32 {
  stepField = "";
  let frame = upstream ? c.frameOut : c.frameIn;
  if (frame == 0) return PASS;
  let state = changetype<FrameState>(frame);
  let ok = frameAdvance(changetype<Rule>(rule), state, bytesOf(upstream), held, size);
  if (c.obs != 0) learnMessages(c.obs, largestMessage(), !ok);
  if (ok) return PASS;
  resetFrame(state); // audit mode goes on: resynchronise at the next read
  return R_MESSAGE_SIZE;
}

/** The policy field behind the last step's violation, for the decision line ("" when the reason says it all). */
var stepField: string = "";

/**
 * A protocol framing (`rule`: a Rule): message sizes and, under mqtt, PUBLISH payload sizes and
 * the CONNECT client id against the rule's patterns, over this read's new bytes [held, size).
 */
function wireStep(c: Conn, rule: usize, held: u32, size: u32, upstream: bool): i32 {
  stepField = "";
  let stp = upstream ? c.frameOut : c.frameIn;
  if (stp == 0) return PASS;
  let st = changetype<WireState>(stp);
  let r = wireFrame(st, bytesOf(upstream), held, size);
  if (c.obs != 0) learnMessages(c.obs, largestMessage(), r != WIRE_OK);
  if (r != WIRE_OK) {
    stepField = r == WIRE_PUBLISH_TOO_BIG ? "limits.maxPublishBytes" : r == WIRE_MALFORMED ? "limits.framing" : "limits.maxMessageBytes";
    stopWireFraming(c); // audit mode goes on unframed: the boundaries are lost
    return R_MESSAGE_SIZE;
  }
  let rl = changetype<Rule>(rule);
  if (upstream || rl.mqttClientIds.length == 0 || (c.flags & F_MQTT_ID_SEEN) != 0 || st.idState == ID_NONE) return PASS;
  c.flags |= F_MQTT_ID_SEEN;
  if (st.idState == ID_READ && clientIdAdmitted(rl, mqttClientId(st), <usize>st.idLen)) return PASS;
  stepField = "from.mqttClientIds"; // not a CONNECT first, an id too long to keep, or outside the patterns
  return R_SOURCE;
}

/**
 * Per-source volume across connections and workers (`rule`: a Rule): spend the connection's
 * lease, reserve more from the shared record only when it runs out.
 */
function perSourceStep(c: Conn, rule: usize, fresh: u64): i32 {
  if (c.lease >= fresh) {
    c.lease -= fresh;
    return PASS;
  }
  if (!perSourceReserve(c.psKey, changetype<Rule>(rule), fresh - c.lease, fresh, c.leaseWindow, nowMs())) return R_SOURCE_BYTES;
  c.lease = leaseGranted;
  c.leaseWindow = leaseWindowStart;
  return PASS;
}

/**
 * Server bytes while admission waits for the handshake: held (StopIteration) and not counted, so
 * that an unadmitted peer never receives one of them and a budget counts them exactly once. They are
 * sniffed (read, not forwarded), so that admission can judge the protocol the server speaks. When
 * admission is decided (client bytes, or a tick once the principal is readable), a denied connection
 * is closed with them still held; an admitted one has Envoy deliver the held buffer again
 * (releaseHeldOut), and onData() then judges it like any server bytes: budget, framing, perSource.
 */
function pendingUpstream(c: Conn, size: u32, end: bool): u32 {
  c.waitingOut = size;
  if (sniffsThisDirection(c, size, true)) {
    let proto = sniffView(serverBytes, size, true, end);
    if (proto != P_UNDECIDED) c.protocol = proto;
  }
  return STOP;
}

// ---- held bytes, let go ----

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
 * After admission, in the connection's context: asks Envoy to deliver the server bytes held while
 * admission waited (see NUDGE_FIRST). A host that refuses leaves them held (they come with the
 * server's next bytes, judged then); one that took the filler but would not drain it again has a
 * corrupted stream, which is closed (logged at error: no policy decision, audit mode included).
 */
export function releaseHeldOut(c: Conn): void {
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
 * onData() (budget, framing, perSource) and handed to the next filter (proxy_continue_stream);
 * admitted server bytes are released the way bytes held while pending are (releaseHeldOut),
 * and onData() judges them when Envoy delivers them again.
 */
export function sniffExpired(root: PicosegRoot, c: Conn, cfg: Config, rule: Rule): void {
  c.flags |= F_SNIFF_LATE;
  forgetFetched();
  let upstream = (c.flags & F_SNIFF_UP) != 0;
  let view = bytesOf(upstream);
  let size: u32 = 0;
  if (view.fill(view, 0, SNIFF_LIMIT)) {
    size = <u32>view.len; // < SNIFF_LIMIT: a full prefix would have been decided
    view.release(view);
  }
  if (!upstream) {
    if (onData(changetype<usize>(root), c, size, false, false) == CONTINUE) continueDownstream();
    return;
  }
  c.protocol = sniffView(view, size, true, true);
  if ((rule.protocols & ((<u32>1) << <u32>c.protocol)) == 0) {
    if (violated(root.metrics, c, R_PROTOCOL, cfg)) return;
  }
  if (size > 0) {
    c.waitingOut = size;
    releaseHeldOut(c);
  }
}
