// Kafka framing and its request signature (https://kafka.apache.org/protocol#protocol_common):
// every request and response is an int32 size (not counting itself) and that many bytes.
// A request header then holds int16 api_key, int16 api_version, int32 correlation_id and a
// nullable int16-length client_id.
import { WireState, WIRE_MALFORMED, WIRE_OK, be16, be32, beginMessage, skipRest } from "./cursor";
import { SNIFF_MATCH, SNIFF_MORE, SNIFF_NO } from "./signatures";

export const KIND_KAFKA: u32 = 3;

export function kafkaStart(st: WireState): void {
  st.want = 4;
}

export function kafkaStep(st: WireState, h: usize): i32 {
  let size = be32(h);
  if (size >= 0x80000000) return WIRE_MALFORMED; // negative int32
  let r = beginMessage(st, 4 + <u64>size, 4);
  if (r != WIRE_OK) return r;
  skipRest(st, 4);
  return WIRE_OK;
}

/** Highest api_key and api_version a plausible request carries (Kafka 4.x defines keys up to ~90). */
const MAX_API_KEY: u32 = 127;
const MAX_API_VERSION: u32 = 31;
/** socket.request.max.bytes' default: a broker refuses larger requests. */
const MAX_REQUEST: u32 = 104857600;

/** A client's first bytes as a Kafka request header (answers SNIFF_*). */
export function sniffKafka(p: usize, len: usize): i32 {
  if (len >= 1 && load<u8>(p) != 0) return SNIFF_NO; // sizes past 16 MiB are not a first request
  if (len < 4) return SNIFF_MORE;
  let size = be32(p);
  if (size < 10 || size > MAX_REQUEST) return SNIFF_NO;
  if (len < 8) return SNIFF_MORE;
  if (be16(p + 4) > MAX_API_KEY || be16(p + 6) > MAX_API_VERSION) return SNIFF_NO;
  if (len < 14) return SNIFF_MORE;
  let idLen = be16(p + 12);
  if (idLen == 0xffff) return SNIFF_MATCH; // null client_id
  return <u64>idLen + 10 <= <u64>size ? SNIFF_MATCH : SNIFF_NO;
}
