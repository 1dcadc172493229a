// MQTT 3.1.1 and 5 framing, with what pico-segmentation reads from it: the CONNECT client id
// and each PUBLISH payload's size (https://docs.oasis-open.org/mqtt/mqtt/v5.0/mqtt-v5.0.html).
// A packet is a fixed-header byte (type << 4 | flags), a 1–4 byte varint remaining length,
// then that many bytes. CONNECT: protocol name, level (4: 3.1.1, 5: 5), flags, keep-alive,
// in 5 a varint-length property block, then the client id (uint16 length + UTF-8).
// PUBLISH: topic (uint16 length + bytes), a packet id when QoS > 0, in 5 a property block,
// then the payload.
import {
  WireState, WIRE_HEADER_MAX, WIRE_MALFORMED, WIRE_OK, WIRE_PUBLISH_TOO_BIG, askHeader, be16, beginMessage, skipRest, skipThen,
} from "./cursor";
import { SNIFF_MATCH, SNIFF_MORE, SNIFF_NO, literal } from "./signatures";

export const KIND_MQTT: u32 = 2;

/** What the client state knows of the CONNECT client id (st.idState). */
export const ID_NONE: u32 = 0;     // no packet seen yet
export const ID_READ: u32 = 1;     // read: mqttClientId()
export const ID_ABSENT: u32 = 2;   // the first packet was not a CONNECT
export const ID_TOO_LONG: u32 = 3; // longer than MQTT_CLIENT_ID_MAX: kept nowhere, matches no pattern

/** Longest client id kept for matching (MQTT 5 servers must accept 23 bytes; fleets use longer). */
export const MQTT_CLIENT_ID_MAX: u32 = WIRE_HEADER_MAX;

const CONNECT: u32 = 1;
const PUBLISH: u32 = 3;

// Phases (st.phase); st.a accumulates a varint, st.b counts its bytes; st.flags keeps the packet's first byte.
const FIXED: u32 = 0;
const LENGTH: u32 = 1;
const C_NAME_LEN: u32 = 2;
const C_VARIABLE: u32 = 3;
const C_PROPS_LEN: u32 = 4;
const C_ID_LEN: u32 = 5;
const C_ID: u32 = 6;
const P_TOPIC_LEN: u32 = 7;
const P_PROPS_LEN: u32 = 8;

const SERVER: u32 = 0x100; // st.flags: the server's direction
const NO_LIMIT: u64 = u64.MAX_VALUE;

export function mqttStart(st: WireState, fromServer: bool): void {
  st.phase = FIXED;
  st.want = 1;
  if (fromServer) st.flags = SERVER;
}

/** The client id read from CONNECT (valid while idState is ID_READ): its bytes and length. */
export function mqttClientId(client: WireState): usize {
  return changetype<usize>(client) + offsetof<WireState>() + <usize>WIRE_HEADER_MAX;
}

/** Bytes a state of this kind needs after the struct's header area: room for the client id. */
export const MQTT_EXTRA: usize = <usize>MQTT_CLIENT_ID_MAX;

function isServer(st: WireState): bool {
  return (st.flags & SERVER) != 0;
}

/** The connection's protocol level, from the client's CONNECT (4 until known). */
function levelOf(st: WireState): u32 {
  let client: WireState | null = isServer(st) ? (st.peer == 0 ? null : changetype<WireState>(st.peer)) : st;
  if (client === null || (client as WireState).level == 0) return 4;
  return (client as WireState).level;
}

/** One varint byte into st.a / st.b; returns 1 when done, 0 for more, -1 when malformed. */
function varint(st: WireState, byte: u32): i32 {
  if (st.b == 4) return -1;
  st.a |= <u64>(byte & 127) << (7 * st.b);
  st.b++;
  if ((byte & 128) == 0) return 1;
  return st.b == 4 ? -1 : 0;
}

function nextPacket(st: WireState): i32 {
  st.phase = FIXED;
  skipRest(st, 1);
  return WIRE_OK;
}

export function mqttStep(st: WireState, h: usize): i32 {
  let phase = st.phase;
  if (phase == FIXED) {
    let first = <u32>load<u8>(h);
    if ((first >> 4) == 0) return WIRE_MALFORMED; // packet type 0 is reserved
    st.flags = (st.flags & SERVER) | first;
    st.a = 0;
    st.b = 0;
    st.phase = LENGTH;
    st.want = 1;
    return WIRE_OK;
  }
  if (phase == LENGTH || phase == C_PROPS_LEN || phase == P_PROPS_LEN) {
    let v = varint(st, <u32>load<u8>(h));
    if (v < 0) return WIRE_MALFORMED;
    if (v == 0) {
      if (phase == LENGTH) st.want = 1;
      else return askHeader(st, 1);
      return WIRE_OK;
    }
    if (phase == LENGTH) return packet(st, 1 + <u64>st.b + st.a, 1 + <u64>st.b);
    if (phase == C_PROPS_LEN) {
      st.phase = C_ID_LEN;
      return skipThen(st, st.a, 2);
    }
    return publishPayload(st, st.a); // P_PROPS_LEN
  }
  if (phase == C_NAME_LEN) {
    let n = be16(h);
    if (n > 6) return WIRE_MALFORMED; // "MQTT" (3.1.1, 5) or "MQIsdp" (3.1)
    st.a = n;
    st.phase = C_VARIABLE;
    return askHeader(st, <u64>n + 4); // name, level, flags, keep-alive
  }
  if (phase == C_VARIABLE) {
    st.level = <u32>load<u8>(h + <usize>st.a);
    if (st.level == 5) {
      st.phase = C_PROPS_LEN;
      st.a = 0;
      st.b = 0;
      return askHeader(st, 1);
    }
    st.phase = C_ID_LEN;
    return askHeader(st, 2);
  }
  if (phase == C_ID_LEN) {
    let n = be16(h);
    if (n > MQTT_CLIENT_ID_MAX) {
      st.idState = ID_TOO_LONG;
      if (<u64>n > st.msgLeft) return WIRE_MALFORMED;
      return nextPacket(st);
    }
    st.idLen = n;
    if (n == 0) {
      st.idState = ID_READ;
      return nextPacket(st);
    }
    st.phase = C_ID;
    return askHeader(st, <u64>n);
  }
  if (phase == C_ID) {
    memory.copy(mqttClientId(st), h, <usize>st.idLen);
    st.idState = ID_READ;
    return nextPacket(st);
  }
  if (phase == P_TOPIC_LEN) {
    let qos = (st.flags >> 1) & 3;
    if (qos == 3) return WIRE_MALFORMED;
    let skip = <u64>be16(h) + (qos > 0 ? 2 : 0); // topic, packet id
    if (levelOf(st) == 5) {
      st.phase = P_PROPS_LEN;
      st.a = 0;
      st.b = 0;
      return skipThen(st, skip, 1);
    }
    if (skip > st.msgLeft) return WIRE_MALFORMED;
    return publishPayload(st, skip);
  }
  return WIRE_MALFORMED;
}

/** The packet's length is known: its limit, then what is read of its body. */
function packet(st: WireState, total: u64, headerRead: u64): i32 {
  let r = beginMessage(st, total, headerRead);
  if (r != WIRE_OK) return r;
  let type = (st.flags & 0xff) >> 4;
  if (!isServer(st) && st.idState == ID_NONE) {
    if (type != CONNECT) {
      st.idState = ID_ABSENT;
      return nextPacket(st);
    }
    st.phase = C_NAME_LEN;
    return askHeader(st, 2);
  }
  if (type == PUBLISH && st.maxPublish != NO_LIMIT) {
    st.phase = P_TOPIC_LEN;
    return askHeader(st, 2);
  }
  return nextPacket(st);
}

/** The PUBLISH payload is what follows `before` more bytes of its variable header. */
function publishPayload(st: WireState, before: u64): i32 {
  if (before > st.msgLeft) return WIRE_MALFORMED;
  if (st.msgLeft - before > st.maxPublish) return WIRE_PUBLISH_TOO_BIG;
  return nextPacket(st);
}

/** A client's first bytes as an MQTT CONNECT (3.1 "MQIsdp", 3.1.1 and 5 "MQTT"); answers SNIFF_*. */
export function sniffMqtt(p: usize, len: usize): i32 {
  if (len < 1) return SNIFF_MORE;
  if (load<u8>(p) != 0x10) return SNIFF_NO; // CONNECT, flags 0
  // Remaining length: 1–4 varint bytes, then the protocol name.
  let i: usize = 1;
  for (;;) {
    if (i >= len) return SNIFF_MORE;
    let b = load<u8>(p + i);
    i++;
    if ((b & 128) == 0) break;
    if (i == 5) return SNIFF_NO;
  }
  let rest = len - i;
  let mqtt = literal(p + i, rest, "\x00\x04MQTT");
  if (mqtt == SNIFF_MATCH) {
    if (rest < 7) return SNIFF_MORE;
    let level = load<u8>(p + i + 6);
    return level == 4 || level == 5 ? SNIFF_MATCH : SNIFF_NO;
  }
  let v31 = literal(p + i, rest, "\x00\x06MQIsdp");
  if (v31 == SNIFF_MATCH) {
    if (rest < 9) return SNIFF_MORE;
    return load<u8>(p + i + 8) == 3 ? SNIFF_MATCH : SNIFF_NO;
  }
  return mqtt == SNIFF_MORE || v31 == SNIFF_MORE ? SNIFF_MORE : SNIFF_NO;
}
