// Parser of the configuration string (filter/CONFIG.md, schema version 1) into a Config.
// Works on the raw bytes line by line; any error rejects the whole string. In reading order:
// the top-level lines (parseConfig: header, generation, observe, tz, segment, quarantine,
// rule, end), a rule's attribute lines (parseRuleLine: principal, ip, port, protocol,
// schedule, limits, framing, perSource), then the tokenizer both read their tokens with.
// A new rule attribute or framing type: its Rule field (or FRAMING_* constant) in config.ts,
// its line in parseRuleLine, filter/CONFIG.md.
import { Cidr, hexVal, parseCidr } from "./cidr";
import {
  Config, FRAMING_CHUNK, FRAMING_DELIMITED, FRAMING_KAFKA, FRAMING_LENGTH_PREFIXED, FRAMING_MQTT, FRAMING_POSTGRES, NONE, Rule,
  Segment, Tz, sourceSlots,
} from "./config";
import { protocolByName } from "./sniff";

var nextConfigId: u32 = 1;

// A rejected string keeps the generation it declared before the error, so that a broken
// newer version still revokes (fail closed) the connections admitted by an older one.
function fail(cfg: Config, line: i32, msg: string): Config {
  cfg.valid = false;
  cfg.error = "line " + line.toString() + ": " + msg;
  cfg.segments = new Array<Segment>();
  cfg.rules = new Array<Rule>();
  cfg.tzs = new Array<Tz | null>();
  return cfg;
}

/** Parses the configuration at [ptr, ptr+len). Never throws: errors give an invalid Config. */
export function parseConfig(ptr: usize, len: usize): Config {
  let cfg = new Config();
  cfg.id = nextConfigId++;
  tokSource(ptr);
  if (len == 0) return fail(cfg, 0, "empty configuration");
  if (len > 16777216) return fail(cfg, 0, "configuration larger than 16 MiB");
  let n = <i32>len;
  let lineNo = 0;
  let sawHeader = false;
  let sawEnd = false;
  let seg: Segment | null = null;
  let rule: Rule | null = null;
  let pos = 0;
  while (pos < n) {
    let e = pos;
    while (e < n && load<u8>(ptr + e) != 10) e++;
    lineNo++;
    tokenize(pos, e);
    pos = e + 1;
    if (tokCount() == 0) continue;
    if (sawEnd) return fail(cfg, lineNo, "content after `end`");
    clearNumberError();
    if (!sawHeader) {
      if (tokCount() != 2 || !tokIs(0, "picoseg") || !tokIs(1, "1")) return fail(cfg, lineNo, "expected `picoseg 1`");
      sawHeader = true;
      continue;
    }
    if (tokIs(0, "end")) {
      if (tokCount() != 1) return fail(cfg, lineNo, "`end` takes no arguments");
      sawEnd = true;
      continue;
    }
    if (tokIs(0, "generation")) {
      if (tokCount() != 2) return fail(cfg, lineNo, "generation: one number");
      cfg.generation = tokU64(1);
    } else if (tokIs(0, "observe")) {
      if (tokCount() != 4 && !(tokCount() == 5 && tokIs(4, "denials"))) return fail(cfg, lineNo, "observe: CLUSTER INTERVAL_MS CAPACITY [denials]");
      cfg.observeDenialsOnly = tokCount() == 5;
      cfg.observeCluster = tokStr(1);
      cfg.observeIntervalMs = tokU64(2);
      cfg.observeCapacity = tokU64(3);
      if (!numbersOk() || cfg.observeIntervalMs == 0 || cfg.observeCapacity == 0) return fail(cfg, lineNo, "observe: bad number");
    } else if (tokIs(0, "tz")) {
      if (tokCount() < 3 || (tokCount() - 3) % 2 != 0) return fail(cfg, lineNo, "tz: ID OFFSET [AT OFFSET]...");
      let id = tokU64(1);
      if (!numbersOk() || id > 1023) return fail(cfg, lineNo, "tz: bad id");
      let tz = new Tz();
      let off = tokI64(2);
      if (off < -1440 || off > 1440) markNumberError();
      tz.base = <i32>off;
      let prev: i64 = i64.MIN_VALUE;
      for (let k = 3; k + 1 < tokCount(); k += 2) {
        let at = tokI64(k);
        let o = tokI64(k + 1);
        if (o < -1440 || o > 1440) markNumberError();
        if (at <= prev) return fail(cfg, lineNo, "tz: transitions must increase");
        prev = at;
        tz.ats.push(at);
        tz.offs.push(<i32>o);
      }
      if (!numbersOk()) return fail(cfg, lineNo, "tz: bad number");
      while (cfg.tzs.length <= <i32>id) cfg.tzs.push(null);
      if (cfg.tzs[<i32>id] !== null) return fail(cfg, lineNo, "tz: duplicate id");
      cfg.tzs[<i32>id] = tz;
    } else if (tokIs(0, "segment")) {
      if (tokCount() != 3) return fail(cfg, lineNo, "segment: NAMESPACE/NAME MODE");
      let s = new Segment();
      s.name = tokStr(1);
      if (tokIs(2, "audit")) s.audit = true;
      else if (!tokIs(2, "enforce")) return fail(cfg, lineNo, "segment: mode must be enforce or audit");
      cfg.segments.push(s);
      seg = s;
      rule = null;
    } else if (tokIs(0, "quarantine")) {
      if (seg === null) return fail(cfg, lineNo, "quarantine before any segment");
      if (tokCount() != 4) return fail(cfg, lineNo, "quarantine: STRIKES WINDOW_S DURATION_S");
      let s = seg as Segment;
      s.quarantineStrikes = tokU64(1);
      s.quarantineWindowS = tokU64(2);
      s.quarantineDurationS = tokU64(3);
      if (!numbersOk() || s.quarantineStrikes == 0 || s.quarantineWindowS == 0) return fail(cfg, lineNo, "quarantine: bad number");
    } else if (tokIs(0, "rule")) {
      if (seg === null) return fail(cfg, lineNo, "rule before any segment");
      if (tokCount() != 2) return fail(cfg, lineNo, "rule: NAME");
      let r = new Rule();
      r.segment = cfg.segments.length - 1;
      r.name = tokStr(1);
      cfg.rules.push(r);
      rule = r;
    } else {
      if (rule === null) return fail(cfg, lineNo, "unknown keyword or rule attribute before any rule");
      let r = rule as Rule;
      let err = parseRuleLine(r);
      if (err.length > 0) return fail(cfg, lineNo, err);
    }
    if (!numbersOk()) return fail(cfg, lineNo, "bad number");
  }
  if (!sawHeader) return fail(cfg, 1, "expected `picoseg 1`");
  if (!sawEnd) return fail(cfg, lineNo, "missing `end` (truncated configuration)");
  for (let i = 0; i < cfg.rules.length; i++) {
    let r = cfg.rules[i];
    if (r.tz >= 0 && (r.tz >= cfg.tzs.length || cfg.tzs[r.tz] === null)) {
      return fail(cfg, lineNo, "rule " + r.name + ": schedule refers to an undefined tz");
    }
    // Client ids and PUBLISH sizes are read by the MQTT framing: without it nothing would enforce them.
    if ((r.mqttClientIds.length > 0 || r.maxPublishBytes != NONE) && r.framing != FRAMING_MQTT) {
      return fail(cfg, lineNo, "rule " + r.name + ": mqttClientId and maxPublishBytes need framing mqtt");
    }
  }
  let allAudit = cfg.segments.length > 0;
  for (let i = 0; i < cfg.segments.length; i++) if (!cfg.segments[i].audit) allAudit = false;
  cfg.allAudit = allAudit;
  for (let i = 0; i < cfg.rules.length; i++) {
    if (cfg.rules[i].principals.length > 0) cfg.hasPrincipalRules = true;
    if (cfg.rules[i].serverNames.length > 0) cfg.hasServerNameRules = true;
  }
  cfg.valid = true;
  return cfg;
}

// ---- a rule's attribute lines ----

/** One rule attribute line; returns an error message or "". */
function parseRuleLine(r: Rule): string {
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

// ---- the tokenizer: one line at a time, tokens separated by spaces, numbers checked as they
// are read (numbersOk() reports the first bad one of a line) ----

const MAX_NUMBER: u64 = 9007199254740992; // 2^53

var tokStart = new Array<i32>(16);
var tokEnd = new Array<i32>(16);
var ntok: i32 = 0;
var base: usize = 0;

function tokenize(lineStart: i32, lineEnd: i32): void {
  ntok = 0;
  let i = lineStart;
  while (i < lineEnd) {
    while (i < lineEnd && load<u8>(base + i) == 32) i++;
    if (i >= lineEnd) break;
    let s = i;
    while (i < lineEnd && load<u8>(base + i) != 32) i++;
    if (ntok >= tokStart.length) {
      tokStart.push(0);
      tokEnd.push(0);
    }
    tokStart[ntok] = s;
    tokEnd[ntok] = i;
    ntok++;
  }
}

function tokLen(i: i32): usize {
  return <usize>(tokEnd[i] - tokStart[i]);
}

function tokIs(i: i32, s: string): bool {
  let n = tokEnd[i] - tokStart[i];
  if (n != s.length) return false;
  for (let k = 0; k < n; k++) if (<i32>load<u8>(base + tokStart[i] + k) != s.charCodeAt(k)) return false;
  return true;
}

function tokStr(i: i32): string {
  return String.UTF8.decodeUnsafe(base + tokStart[i], tokLen(i));
}

var numOk: bool = true;

/** Unsigned decimal, at most 2^53; sets numOk=false on error. */
function tokU64(i: i32): u64 {
  let n = tokLen(i);
  if (n == 0 || n > 16) { numOk = false; return 0; }
  let v: u64 = 0;
  for (let k: usize = 0; k < n; k++) {
    let c = <u64>load<u8>(base + tokStart[i] + k);
    if (c < 48 || c > 57) { numOk = false; return 0; }
    v = v * 10 + (c - 48);
  }
  if (v > MAX_NUMBER) { numOk = false; return 0; }
  return v;
}

/** Optionally negative decimal. */
function tokI64(i: i32): i64 {
  let n = tokLen(i);
  if (n >= 2 && load<u8>(base + tokStart[i]) == 45) {
    tokStart[i]++;
    let v = tokU64(i);
    tokStart[i]--;
    return -<i64>v;
  }
  return <i64>tokU64(i);
}

/** A limit or `-`. */
function tokLimit(i: i32): u64 {
  if (tokIs(i, "-")) return NONE;
  return tokU64(i);
}

/** Starts reading the configuration at `ptr`. */
function tokSource(ptr: usize): void {
  base = ptr;
}

/** Tokens on the line last tokenized. */
function tokCount(): i32 {
  return ntok;
}

/** Address of token i's bytes. */
function tokPtr(i: i32): usize {
  return base + tokStart[i];
}

/** Starts a line with no number error. */
function clearNumberError(): void {
  numOk = true;
}

function numbersOk(): bool {
  return numOk;
}

/** A number the caller found out of its range. */
function markNumberError(): void {
  numOk = false;
}
