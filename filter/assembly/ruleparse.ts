// A rule's attribute lines (principal, ip, port, protocol, schedule, limits, framing,
// perSource) of the configuration string. A new rule attribute or framing type: its
// Rule field (or FRAMING_* constant) in config.ts, its line here, filter/CONFIG.md.
import { Cidr, hexVal, parseCidr } from "./cidr";
import {
  FRAMING_CHUNK, FRAMING_DELIMITED, FRAMING_KAFKA, FRAMING_LENGTH_PREFIXED, FRAMING_MQTT, FRAMING_POSTGRES, Rule, sourceSlots,
} from "./config";
import { numbersOk, tokCount, tokI64, tokIs, tokLen, tokLimit, tokPtr, tokStr, tokU64 } from "./configtokens";
import { protocolByName } from "./sniff";

/** One rule attribute line; returns an error message or "". */
export function parseRuleLine(r: Rule): string {
  if (tokIs(0, "principal")) {
    if (tokCount() != 2) return "principal: PATTERN";
    r.principals.push(tokStr(1));
  } else if (tokIs(0, "ip") || tokIs(0, "notip")) {
    if (tokCount() != 2) return "ip: ADDR/LEN";
    let c = parseCidr(tokPtr(1), tokLen(1));
    if (c === null) return "ip: malformed block";
    if (tokIs(0, "ip")) r.ipBlocks.push(c as Cidr);
    else r.notIpBlocks.push(c as Cidr);
  } else if (tokIs(0, "serverName")) {
    if (tokCount() != 2) return "serverName: PATTERN";
    r.serverNames.push(tokStr(1));
  } else if (tokIs(0, "mqttClientId")) {
    if (tokCount() != 2) return "mqttClientId: PATTERN";
    r.mqttClientIds.push(tokStr(1));
    r.frames = true;
  } else if (tokIs(0, "port")) {
    if (tokCount() != 3) return "port: LO HI";
    let lo = tokU64(1);
    let hi = tokU64(2);
    if (!numbersOk() || lo > 65535 || hi > 65535 || lo > hi) return "port: bad range";
    r.ports.push(<u32>lo);
    r.ports.push(<u32>hi);
  } else if (tokIs(0, "protocol")) {
    if (tokCount() != 2) return "protocol: NAME";
    let p = protocolByName(tokStr(1));
    if (p < 0) return "protocol: unknown name";
    r.protocols |= (<u32>1) << <u32>p;
  } else if (tokIs(0, "sniffTimeoutMs")) {
    if (tokCount() != 2) return "sniffTimeoutMs: N";
    let ms = tokU64(1);
    if (!numbersOk()) return "sniffTimeoutMs: bad number";
    r.sniffTimeoutMs = ms;
  } else if (tokIs(0, "schedule")) {
    if (tokCount() != 2) return "schedule: TZID";
    let id = tokU64(1);
    if (!numbersOk() || id > 1023) return "schedule: bad tz id";
    r.tz = <i32>id;
  } else if (tokIs(0, "window")) {
    if (tokCount() != 3) return "window: START END";
    let s = tokU64(1);
    let e = tokU64(2);
    if (!numbersOk() || s >= 10080 || e <= s || e > s + 10080) return "window: out of range";
    r.windows.push(<i32>s);
    r.windows.push(<i32>e);
  } else if (tokIs(0, "maxBytesIn") || tokIs(0, "maxBytesOut") || tokIs(0, "maxMessageBytes") || tokIs(0, "maxDurationSeconds") ||
    tokIs(0, "maxPublishBytes")) {
    if (tokCount() != 2) return tokStr(0) + ": N";
    let limit = tokU64(1);
    if (tokIs(0, "maxBytesIn")) r.maxBytesIn = limit;
    else if (tokIs(0, "maxBytesOut")) r.maxBytesOut = limit;
    else if (tokIs(0, "maxDurationSeconds")) r.maxDurationS = limit;
    else {
      // Both are read under the rule's framing: a connection under this rule is framed.
      if (tokIs(0, "maxMessageBytes")) r.maxMessageBytes = limit;
      else r.maxPublishBytes = limit;
      r.frames = true;
    }
  } else if (tokIs(0, "framing")) {
    if (tokCount() < 2) return "framing: TYPE ...";
    if (tokIs(1, "chunk")) {
      if (tokCount() != 2) return "framing chunk: no arguments";
      r.framing = FRAMING_CHUNK;
    } else if (tokIs(1, "lengthPrefixed")) {
      if (tokCount() != 6) return "framing lengthPrefixed: OFFSET WIDTH ENDIAN ADJUSTMENT";
      r.lpOffset = tokU64(2);
      let w = tokU64(3);
      if (w != 1 && w != 2 && w != 4 && w != 8) return "framing: width must be 1, 2, 4 or 8";
      r.lpWidth = <u32>w;
      if (tokIs(4, "big")) r.lpBig = true;
      else if (tokIs(4, "little")) r.lpBig = false;
      else return "framing: endian must be big or little";
      r.lpAdjustment = tokI64(5);
      r.framing = FRAMING_LENGTH_PREFIXED;
    } else if (tokIs(1, "delimited")) {
      if (tokCount() != 3) return "framing delimited: HEX";
      let n = <i32>tokLen(2);
      if (n < 2 || n > 8 || n % 2 != 0) return "framing: delimiter must be 1-4 bytes in hex";
      let v: u32 = 0;
      for (let k = 0; k < n; k++) {
        let h = hexVal(<u32>load<u8>(tokPtr(2) + k));
        if (h < 0) return "framing: delimiter must be hex";
        v = (v << 4) | <u32>h;
      }
      r.delimiter = v;
      r.delimiterLen = <u32>(n / 2);
      r.framing = FRAMING_DELIMITED;
    } else if (tokIs(1, "postgres") || tokIs(1, "mqtt") || tokIs(1, "kafka")) {
      if (tokCount() != 2) return "framing: postgres, mqtt and kafka take no arguments";
      r.framing = tokIs(1, "postgres") ? FRAMING_POSTGRES : tokIs(1, "mqtt") ? FRAMING_MQTT : FRAMING_KAFKA;
    } else return "framing: unknown type";
  } else if (tokIs(0, "perSource")) {
    if (tokCount() != 5 && tokCount() != 6) return "perSource: WINDOW_S MAXBYTES MAXCONNS MAXPORTS [MAXSOURCES]";
    if (tokCount() == 6) {
      let sources = tokU64(5);
      if (sources == 0) return "perSource: MAXSOURCES must be positive";
      r.psSlotMask = sourceSlots(sources) - 1;
    }
    r.psWindowS = tokU64(1);
    if (r.psWindowS == 0) return "perSource: window must be positive";
    r.psMaxBytes = tokLimit(2);
    r.psMaxConnections = tokLimit(3);
    r.psMaxPorts = tokLimit(4);
    r.hasPerSource = true;
  } else {
    return "unknown keyword";
  }
  return "";
}
