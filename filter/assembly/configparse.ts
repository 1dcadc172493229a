// Parser of the configuration string (filter/CONFIG.md, schema version 1) into a Config.
// Works on the raw bytes line by line; any error rejects the whole string. Segment, tz
// and rule lines are read here; a rule's attribute lines in ruleparse.ts.
import { Config, FRAMING_MQTT, NONE, Rule, Segment, Tz } from "./config";
import { clearNumberError, markNumberError, numbersOk, tokCount, tokenize, tokI64, tokIs, tokSource, tokStr, tokU64 } from "./configtokens";
import { parseRuleLine } from "./ruleparse";

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
