// First-byte signatures of the messaging protocols: each recogniser answers SNIFF_MATCH,
// SNIFF_NO or SNIFF_MORE (needs more bytes) over a view of a stream's first bytes, and says
// no as early as it can. MQTT's and Kafka's live with their framing (mqtt.ts, kafka.ts).

export const SNIFF_NO: i32 = 0;
export const SNIFF_MATCH: i32 = 1;
export const SNIFF_MORE: i32 = 2;

/** The view against the bytes of `s` (each char one byte). */
export function literal(p: usize, len: usize, s: string): i32 {
  let n = s.length;
  let m = len < <usize>n ? <i32>len : n;
  for (let i = 0; i < m; i++) {
    if (<i32>load<u8>(p + i) != s.charCodeAt(i)) return SNIFF_NO;
  }
  return len >= <usize>n ? SNIFF_MATCH : SNIFF_MORE;
}

/**
 * The AMQP protocol header a client sends first: "AMQP", then a protocol id (0: AMQP 0-9-1 and
 * 1.0, 1: 0-10, 2: 1.0 over TLS, 3: 1.0 SASL) and the version bytes.
 */
export function sniffAmqp(p: usize, len: usize): i32 {
  let r = literal(p, len, "AMQP");
  if (r != SNIFF_MATCH) return r;
  if (len < 5) return SNIFF_MORE;
  return load<u8>(p + 4) <= 3 ? SNIFF_MATCH : SNIFF_NO;
}

/** NATS is server-first: its INFO line carries a JSON object ("INFO {"). */
export function sniffNats(p: usize, len: usize): i32 {
  return literal(p, len, "INFO {");
}
