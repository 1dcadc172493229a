// One JSON line per denial (warn) or allowed connection (debug), built only when
// the host's log level (as of the last configure or tick) will print it.
import { hostLog, hostLogLevel, LOG_DEBUG, LOG_INFO, LOG_WARN } from "./hostcalls";
import { REASONS } from "./reasons";

function hexDigit(v: i32): u16 {
  return <u16>(v < 10 ? 48 + v : 87 + v);
}

/**
 * JSON string literal of s, written in one pass into a buffer sized first: a principal of
 * control characters must not cost a string concatenation (and its garbage) per character.
 */
export function jsonString(s: string): string {
  let len = s.length;
  let units = 2;
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    units += c == 34 || c == 92 ? 2 : c < 32 ? 6 : 1;
  }
  let buf = new ArrayBuffer(units << 1);
  let p = changetype<usize>(buf);
  store<u16>(p, 34);
  let o: usize = 2;
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c == 34 || c == 92) {
      store<u16>(p + o, 92);
      store<u16>(p + o + 2, <u16>c);
      o += 4;
    } else if (c < 32) {
      store<u16>(p + o, 92); // \u00XY
      store<u16>(p + o + 2, 117);
      store<u16>(p + o + 4, 48);
      store<u16>(p + o + 6, 48);
      store<u16>(p + o + 8, hexDigit(c >> 4));
      store<u16>(p + o + 10, hexDigit(c & 15));
      o += 12;
    } else {
      store<u16>(p + o, <u16>c);
      o += 2;
    }
  }
  store<u16>(p + o, 34);
  return String.UTF16.decode(buf);
}

export class Decision {
  verdict: string = "deny"; // deny | audit | allow
  reason: i32 = -1;
  segment: string = "";
  rule: string = "";
  source: string = "";
  principal: string = "";
  port: i32 = -1;
  protocol: string = "";
  bytesIn: u64 = 0;
  bytesOut: u64 = 0;
  mode: string = "enforce";
  connection: u32 = 0;
  /** The policy field that decided, where a reason has several (`from.mqttClientIds`); "" otherwise. */
  field: string = "";
}

/**
 * The host's log level as last asked: at every configure and every tick (refreshLogLevel), not
 * per connection, which saved a host call on every admitted or denied one. Envoy's level changes
 * only by its admin endpoint; the filter follows within a tick (500 ms). Envoy filters proxy_log
 * by its own level too, so a stale verbose level costs only work, never a line Envoy should not print.
 */
var logLevel: i32 = LOG_INFO;

export function refreshLogLevel(): void {
  logLevel = hostLogLevel();
}

export function wouldLog(level: i32): bool {
  return logLevel <= level;
}

export function logDecision(d: Decision): void {
  let level = d.verdict == "allow" ? LOG_DEBUG : LOG_WARN;
  if (!wouldLog(level)) return;
  let reason = d.reason >= 0 && d.reason < REASONS.length ? REASONS[d.reason] : "";
  let line = "{\"picoseg\":" + jsonString(d.verdict) +
    ",\"reason\":" + jsonString(reason) +
    ",\"segment\":" + jsonString(d.segment) +
    ",\"rule\":" + jsonString(d.rule) +
    ",\"source\":" + jsonString(d.source) +
    ",\"principal\":" + jsonString(d.principal) +
    ",\"port\":" + (d.port < 0 ? "null" : d.port.toString()) +
    ",\"protocol\":" + jsonString(d.protocol) +
    ",\"bytesIn\":" + d.bytesIn.toString() +
    ",\"bytesOut\":" + d.bytesOut.toString() +
    ",\"mode\":" + jsonString(d.mode) +
    ",\"connection\":" + d.connection.toString() +
    (d.field.length > 0 ? ",\"field\":" + jsonString(d.field) : "") + "}";
  hostLog(level, line);
}
