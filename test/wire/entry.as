// Test entry for the filter's pure wire functions (filter/assembly/wire/): compiled on its own
// by test/wire/module.ts, so that framing and signatures are tested over plain memory.
// Named .as so that tsc (tsconfig.test.json) does not read it as TypeScript.
import { WireState, newWireState, wireAdvance, wirePair } from "../../filter/assembly/wire/cursor";
import { mqttClientId, sniffMqtt } from "../../filter/assembly/wire/mqtt";
import { sniffKafka } from "../../filter/assembly/wire/kafka";
import { sniffAmqp, sniffNats } from "../../filter/assembly/wire/signatures";
import { serverNameMatches, sniOffset, tlsServerName } from "../../filter/assembly/wire/tls";

export function alloc(n: usize): usize {
  return heap.alloc(n);
}

export function dealloc(p: usize): void {
  heap.free(p);
}

export function wireNew(kind: u32, fromServer: bool, maxMessage: u64, maxPublish: u64): usize {
  return changetype<usize>(newWireState(kind, fromServer, maxMessage, maxPublish));
}

export function wireLink(client: usize, server: usize): void {
  wirePair(changetype<WireState>(client), changetype<WireState>(server));
}

export function wireFeedView(st: usize, p: usize, len: u32): i32 {
  return wireAdvance(changetype<WireState>(st), p, <u64>len);
}

export function mqttIdState(st: usize): u32 {
  return changetype<WireState>(st).idState;
}

export function mqttIdPtr(st: usize): usize {
  return mqttClientId(changetype<WireState>(st));
}

export function mqttIdLen(st: usize): u32 {
  return changetype<WireState>(st).idLen;
}

export function mqttLevel(st: usize): u32 {
  return changetype<WireState>(st).level;
}

/** kind: 0 mqtt, 1 kafka, 2 amqp, 3 nats. */
export function sniffAs(kind: i32, p: usize, len: usize): i32 {
  if (kind == 0) return sniffMqtt(p, len);
  if (kind == 1) return sniffKafka(p, len);
  if (kind == 2) return sniffAmqp(p, len);
  return sniffNats(p, len);
}

export function sni(p: usize, len: usize): i32 {
  return tlsServerName(p, len);
}

export function sniAt(): usize {
  return sniOffset;
}

export function nameMatches(pat: usize, patLen: usize, name: usize, nameLen: usize): bool {
  return serverNameMatches(String.UTF8.decodeUnsafe(pat, patLen), name, nameLen);
}
