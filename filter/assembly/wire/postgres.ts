// Postgres framing (protocol 3.x, https://www.postgresql.org/docs/current/protocol-message-formats.html).
// The client opens with untyped messages (int32 length counting itself, int32 code):
// SSLRequest, GSSENCRequest, CancelRequest, then the StartupMessage; every later message, and
// every server message, is typed: one type byte, then an int32 length counting itself but not
// the type byte. The server answers an SSLRequest or GSSENCRequest with a single byte: 'S' or
// 'G' (encryption follows: TLS records, or GSSAPI packets with an int32 length) or 'N'.
import { WireState, WIRE_MALFORMED, WIRE_OK, be16, be32, beginMessage, skipRest } from "./cursor";

export const KIND_POSTGRES: u32 = 1;

const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;
const CANCEL_REQUEST: u32 = 80877102;

// Phases (st.phase).
const STARTUP: u32 = 0; // client: an untyped message (8-byte header) or a direct TLS ClientHello
const TYPED: u32 = 1;   // 5-byte header: type, int32 length
const REPLY: u32 = 2;   // server: the one-byte answer to an SSLRequest / GSSENCRequest
const ERROR_LEN: u32 = 3; // server: that answer was 'E' (an old server's ErrorResponse): its int32 length
const TLS: u32 = 4;     // TLS records: type, version, uint16 length
const GSS: u32 = 5;     // GSSAPI packets: int32 length not counting itself
const BROKEN: u32 = 6;  // bytes sent before an encryption switch could be seen: never framed

const CLIENT: u32 = 1; // st.flags: the client's direction

export function postgresStart(st: WireState, fromServer: bool): void {
  if (fromServer) {
    st.phase = TYPED;
    st.want = 5;
  } else {
    st.phase = STARTUP;
    st.want = 8;
    st.flags = CLIENT;
  }
}

function peerOf(st: WireState): WireState | null {
  return st.peer == 0 ? null : changetype<WireState>(st.peer);
}

function atBoundary(st: WireState): bool {
  return st.skip == 0 && st.have == 0 && st.msgLeft == 0;
}

/** Moves the other direction to `phase` (wanting `want` header bytes), or breaks it if it is mid-message. */
function switchPeer(st: WireState, phase: u32, want: u32): void {
  let peer = peerOf(st);
  if (peer === null) return;
  let p = peer as WireState;
  if (p.phase == BROKEN) return;
  if (atBoundary(p)) {
    p.phase = phase;
    p.want = want;
  } else {
    // Bytes pipelined behind an SSLRequest would be read as plaintext by the server but
    // framed as encrypted here (CVE-2021-23222): refuse them instead of guessing.
    p.phase = BROKEN;
    p.want = 1;
  }
}

export function postgresStep(st: WireState, h: usize): i32 {
  let phase = st.phase;
  if (phase == STARTUP) return startup(st, h);
  if (phase == TYPED) return record(st, 1 + <u64>be32(h + 1), 5, be32(h + 1) < 4);
  if (phase == TLS) return record(st, 5 + <u64>be16(h + 3), 5, false);
  if (phase == GSS) return record(st, 4 + <u64>be32(h), 4, false);
  if (phase == REPLY) return reply(st, h);
  if (phase == ERROR_LEN) {
    let len = be32(h);
    if (len < 4) return WIRE_MALFORMED;
    let r = beginMessage(st, 1 + <u64>len, 5);
    if (r != WIRE_OK) return r;
    st.phase = TYPED;
    skipRest(st, 5);
    return WIRE_OK;
  }
  return WIRE_MALFORMED;
}

/** A message of `total` bytes whose `header` bytes were read; the next one has the same header size. */
function record(st: WireState, total: u64, header: u32, bad: bool): i32 {
  if (bad) return WIRE_MALFORMED;
  let r = beginMessage(st, total, <u64>header);
  if (r != WIRE_OK) return r;
  skipRest(st, header);
  return WIRE_OK;
}

function startup(st: WireState, h: usize): i32 {
  // libpq 17's sslnegotiation=direct opens with a TLS ClientHello instead of an SSLRequest.
  if (load<u8>(h) == 0x16 && load<u8>(h + 1) == 0x03) {
    st.phase = TLS;
    switchPeer(st, TLS, 5);
    return record(st, 5 + <u64>be16(h + 3), 8, false);
  }
  let len = be32(h);
  let code = be32(h + 4);
  if (len < 8) return WIRE_MALFORMED;
  let r = beginMessage(st, <u64>len, 8);
  if (r != WIRE_OK) return r;
  if (code == SSL_REQUEST || code == GSSENC_REQUEST) {
    if (len != 8) return WIRE_MALFORMED;
    switchPeer(st, REPLY, 1); // the server answers with one untyped byte
  } else if (code == CANCEL_REQUEST) {
    if (len != 16) return WIRE_MALFORMED;
  } else if ((code >> 16) == 3) {
    st.phase = TYPED; // StartupMessage 3.x: typed messages from here on
    skipRest(st, 5);
    return WIRE_OK;
  } else {
    return WIRE_MALFORMED;
  }
  skipRest(st, 8);
  return WIRE_OK;
}

function reply(st: WireState, h: usize): i32 {
  let b = load<u8>(h);
  let r = beginMessage(st, 1, 1);
  if (r != WIRE_OK) return r;
  if (b == 0x4e) { // 'N': the client goes on in plaintext with another untyped message
    st.phase = TYPED;
    st.want = 5;
  } else if (b == 0x53) { // 'S'
    st.phase = TLS;
    st.want = 5;
    switchPeer(st, TLS, 5);
  } else if (b == 0x47) { // 'G'
    st.phase = GSS;
    st.want = 4;
    switchPeer(st, GSS, 4);
  } else if (b == 0x45) { // 'E': a server that refuses the request with an ErrorResponse
    st.phase = ERROR_LEN;
    st.want = 4;
  } else {
    return WIRE_MALFORMED;
  }
  return WIRE_OK;
}
