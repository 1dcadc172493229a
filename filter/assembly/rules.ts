// Rule selection: the first rule whose `from` and `ports` match governs.
import { Config, Rule } from "./config";
import { destPort, principal, sniLen, sniPtr, sourceHi, sourceLo, sourceOk, sourceV4 } from "./facts";
import { serverNameMatches } from "./wire/tls";
import { R_NO_RULE, R_PORT, R_SOURCE } from "./reasons";

export function principalMatches(pattern: string, p: string): bool {
  if (p.length == 0) return false;
  let n = pattern.length;
  if (n == 1 && pattern.charCodeAt(0) == 42) return true;
  if (n > 0 && pattern.charCodeAt(n - 1) == 42) return p.startsWith(pattern.substring(0, n - 1));
  if (n > 0 && pattern.charCodeAt(0) == 42) return p.endsWith(pattern.substring(1));
  return p == pattern;
}

/**
 * The MQTT client id [p, p+len) against a rule's mqttClientIds: exact, `prefix*` or `*`.
 * Read once per connection, from its CONNECT.
 */
export function clientIdAdmitted(r: Rule, p: usize, len: usize): bool {
  let id = String.UTF8.decodeUnsafe(p, len);
  for (let i = 0; i < r.mqttClientIds.length; i++) {
    let pattern = r.mqttClientIds[i];
    let n = pattern.length;
    if (n > 0 && pattern.charCodeAt(n - 1) == 42) {
      if (id.startsWith(pattern.substring(0, n - 1))) return true;
    } else if (id == pattern) return true;
  }
  return false;
}

/** While set, any principal and server name pattern counts as matching (what could they still admit?). */
export var assumeAnyPrincipal: bool = false;

/** `from` against the facts of the last readFacts() and the server name of useServerNameOf(). */
export function fromMatches(r: Rule): bool {
  if (r.serverNames.length > 0 && !assumeAnyPrincipal) {
    if (sniLen == 0) return false;
    let ok = false;
    for (let i = 0; i < r.serverNames.length; i++) {
      if (serverNameMatches(r.serverNames[i], sniPtr, sniLen)) { ok = true; break; }
    }
    if (!ok) return false;
  }
  if (r.principals.length > 0 && !assumeAnyPrincipal) {
    let ok = false;
    for (let i = 0; i < r.principals.length; i++) {
      if (principalMatches(r.principals[i], principal)) { ok = true; break; }
    }
    if (!ok) return false;
  }
  if (r.ipBlocks.length > 0) {
    if (!sourceOk) return false;
    let ok = false;
    for (let i = 0; i < r.ipBlocks.length; i++) {
      if (r.ipBlocks[i].contains(sourceV4, sourceHi, sourceLo)) { ok = true; break; }
    }
    if (!ok) return false;
  }
  if (r.notIpBlocks.length > 0) {
    if (!sourceOk) return false;
    for (let i = 0; i < r.notIpBlocks.length; i++) {
      if (r.notIpBlocks[i].contains(sourceV4, sourceHi, sourceLo)) return false;
    }
  }
  return true;
}

export function portMatches(r: Rule): bool {
  let ports = r.ports;
  if (ports.length == 0) return true;
  if (destPort < 0) return false;
  let p = <u32>destPort;
  for (let i = 0; i + 1 < ports.length; i += 2) {
    if (ports[i] <= p && p <= ports[i + 1]) return true;
  }
  return false;
}

/** Outcome of the last select(). */
export var selectedRule: i32 = -1;
export var firstFromRule: i32 = -1;

/** Returns -1 when a rule was selected (selectedRule), else the reason. */
export function select(cfg: Config): i32 {
  selectedRule = -1;
  firstFromRule = -1;
  let rules = cfg.rules;
  if (rules.length == 0) return R_NO_RULE;
  for (let i = 0; i < rules.length; i++) {
    let r = rules[i];
    if (!fromMatches(r)) continue;
    if (firstFromRule < 0) firstFromRule = i;
    if (portMatches(r)) {
      selectedRule = i;
      return -1;
    }
  }
  return firstFromRule >= 0 ? R_PORT : R_SOURCE;
}

/** Selection as if the principal, still unknown, matched every pattern. */
export function selectOptimistic(cfg: Config): i32 {
  assumeAnyPrincipal = true;
  let reason = select(cfg);
  assumeAnyPrincipal = false;
  return reason;
}

/** Index of the rule with the same segment and rule name in cfg, -1 when gone. */
export function findSameRule(cfg: Config, segName: string, ruleName: string): i32 {
  for (let i = 0; i < cfg.rules.length; i++) {
    let r = cfg.rules[i];
    if (r.name == ruleName && r.segment < cfg.segments.length && cfg.segments[r.segment].name == segName) return i;
  }
  return -1;
}
