// The protocol framings by kind (KIND_* of postgres.ts, mqtt.ts, kafka.ts): a fresh state of a
// kind, and the step of its kind once a header piece is whole. The one place that knows every
// protocol, so that the cursor they share (cursor.ts) imports none of them. A new protocol
// framing: its file beside these (a KIND_*, a start and a step over cursor.ts), a branch in
// newWireState and wireFeed, its FRAMING_* (config.ts, KIND_* + 2) and its `framing` line
// (configparse.ts parseRuleLine).
import { WireState, WIRE_HEADER_MAX, WIRE_MALFORMED, WIRE_OK, headerOf } from "./cursor";
import { KIND_KAFKA, kafkaStart, kafkaStep } from "./kafka";
import { KIND_MQTT, MQTT_EXTRA, mqttStart, mqttStep } from "./mqtt";
import { KIND_POSTGRES, postgresStart, postgresStep } from "./postgres";

/** Size of a state of `kind`: the struct, its header area and (MQTT) room for the client id. */
function stateSize(kind: u32): usize {
  let size = offsetof<WireState>() + <usize>WIRE_HEADER_MAX;
  return kind == KIND_MQTT ? size + MQTT_EXTRA : size;
}

/** A fresh state for one direction (`fromServer`) of a stream framed as `kind` (KIND_*). */
export function newWireState(kind: u32, fromServer: bool, maxMessage: u64, maxPublish: u64): WireState {
  let size = stateSize(kind);
  let p = heap.alloc(size);
  memory.fill(p, 0, size);
  let st = changetype<WireState>(p);
  st.kind = kind;
  st.max = maxMessage;
  st.maxPublish = maxPublish;
  if (kind == KIND_POSTGRES) postgresStart(st, fromServer);
  else if (kind == KIND_MQTT) mqttStart(st, fromServer);
  else if (kind == KIND_KAFKA) kafkaStart(st);
  else st.phase = 0xffffffff; // an unknown kind frames nothing: every byte is malformed
  return st;
}

/** Takes n ≤ wireWant() header bytes at p; runs the protocol's step once the piece is whole. */
export function wireFeed(st: WireState, p: usize, n: u32): i32 {
  memory.copy(headerOf(st) + <usize>st.have, p, <usize>n);
  st.have += n;
  if (st.have < st.want) return WIRE_OK;
  st.have = 0;
  let h = headerOf(st);
  if (st.kind == KIND_POSTGRES) return postgresStep(st, h);
  if (st.kind == KIND_MQTT) return mqttStep(st, h);
  if (st.kind == KIND_KAFKA) return kafkaStep(st, h);
  return WIRE_MALFORMED;
}
