// One JSON line per denial (warn) or allowed connection (debug), built only when
// the host's log level will print it.
import { hostLog, hostLogLevel, LOG_DEBUG, LOG_WARN } from "./hostcalls";
import { REASONS } from "./reasons";

function hex4(c: i32): string {
  let s = c.toString(16);
  while (s.length < 4) s = "0" + s;
  return s;
}

/** JSON string literal of s. */
export function jsonString(s: string): string {
  let out = "\"";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c == 34 || c == 92 || c < 32) {
      out += s.substring(from, i);
      if (c == 34) out += "\\\"";
      else if (c == 92) out += "\\\\";
      else out += "\\u" + hex4(c);
      from = i + 1;
    }
  }
  out += s.substring(from);
  return out + "\"";
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
}

export function wouldLog(level: i32): bool {
  return hostLogLevel() <= level;
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
    ",\"connection\":" + d.connection.toString() + "}";
  hostLog(level, line);
}
