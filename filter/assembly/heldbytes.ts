// Bytes held back while undecided, and how they are let go: the server bytes held while admission
// waits are released by a nudge once it is decided (releaseHeldOut), and a protocol still
// undecided at the sniff deadline is decided on what is held (sniffExpired). Both run in the
// connection's context, from the data path or the tick.
import { Config, Rule } from "./config";
import { Conn, F_CLOSED, F_ENDED, F_PENDING, F_SNIFF_LATE, F_SNIFF_UP } from "./connection";
import { bytesOf, onData } from "./datapath";
import { wouldLog } from "./decisionlog";
import { CONTINUE, LOG_ERROR, NUDGE_BROKEN, closeDownstream, continueDownstream, forgetFetched, hostLog, nudgeUpstream } from "./hostcalls";
import { R_PROTOCOL } from "./reasons";
import { PicosegRoot } from "./root";
import { SNIFF_LIMIT, sniffView } from "./sniff";
import { violated } from "./verdict";

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
