// The checks a JSON Schema cannot express: addresses, port ranges, time zones, clock times,
// quantities, durations, framing parameters, names, duplicates. They run on the same document
// as the schema and skip values of the wrong type (the schema already reported those), so an
// operator sees every error at once and each only once.

import { parseCidr } from "./cidr.js";
import { FRAMING_FIELDS, delimiterBytes, type FramingType } from "./framing.js";
import { formatPath, type FieldPath } from "./path.js";
import { parsePort } from "./ports.js";
import { MAX_CONFIG_NUMBER, parseDuration, parseQuantity, type Parsed } from "./quantity.js";
import { parseClock } from "./schedule.js";
import { checkTimeZone } from "./timezone.js";
import { errorAt, type LocatedError, type SourceDocument } from "./yaml-source.js";

type Report = (path: FieldPath, message: string) => void;

/** Every semantic error of one PicoSegment document (kind and apiVersion already checked). */
export function semanticErrors(doc: SourceDocument, file: string): LocatedError[] {
  const errors: LocatedError[] = [];
  const report: Report = (path, message) => errors.push(errorAt(doc, file, path, formatPath(path), message));
  const root = asRecord(doc.value);
  if (!root) return errors;

  const metadata = asRecord(root["metadata"]);
  if (metadata) {
    for (const key of ["name", "namespace"] as const) {
      const value = metadata[key];
      if (typeof value === "string" && !isDnsLabel(value)) {
        report(["metadata", key], `${JSON.stringify(value)} is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)`);
      }
    }
  }

  const spec = asRecord(root["spec"]);
  if (!spec) return errors;
  checkMatchLabels(asRecord(asRecord(spec["selector"])?.["matchLabels"]), report);
  const compliance = spec["compliance"];
  if (Array.isArray(compliance)) {
    // A set: a regime named twice is a typo or a merge accident (Kubernetes forbids uniqueItems).
    compliance.forEach((c: unknown, i) => {
      if (typeof c === "string" && compliance.indexOf(c) < i) report(["spec", "compliance", i], `duplicate regime ${JSON.stringify(c)}`);
    });
  }

  const rules = spec["rules"];
  if (Array.isArray(rules)) {
    const firstLineOfName = new Map<string, number>();
    rules.forEach((rule: unknown, i) => {
      const at: FieldPath = ["spec", "rules", i];
      const r = asRecord(rule);
      if (!r) return;
      const name = r["name"];
      if (typeof name === "string") {
        if (!RULE_NAME.test(name)) {
          report([...at, "name"], `${JSON.stringify(name)} is not a rule name (letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters)`);
        }
        const first = firstLineOfName.get(name);
        if (first !== undefined) report([...at, "name"], `duplicate rule name ${JSON.stringify(name)} (first at line ${first})`);
        else firstLineOfName.set(name, doc.lineOf([...at, "name"]));
      }
      checkRule(r, at, report);
    });
  }

  const quarantine = asRecord(spec["quarantine"]);
  if (quarantine) {
    checkSafeInteger(quarantine["strikes"], ["spec", "quarantine", "strikes"], report);
    checkDuration(quarantine["window"], ["spec", "quarantine", "window"], report);
    checkDuration(quarantine["duration"], ["spec", "quarantine", "duration"], report);
  }
  return errors;
}

function checkRule(rule: Record<string, unknown>, at: FieldPath, report: Report): void {
  const from = asRecord(rule["from"]);
  if (from) {
    eachString(from["principals"], [...at, "from", "principals"], report, checkPrincipal);
    for (const key of ["ipBlocks", "notIpBlocks"] as const) {
      eachString(from[key], [...at, "from", key], report, (text) => parseCidr(text));
    }
    eachString(from["mqttClientIds"], [...at, "from", "mqttClientIds"], report, checkClientIdPattern);
    eachString(from["serverNames"], [...at, "from", "serverNames"], report, checkServerName);
  }

  const ports = rule["ports"];
  if (Array.isArray(ports)) {
    ports.forEach((port: unknown, i) => {
      if (typeof port !== "string") return; // integers: bounds are in the schema
      const parsed = parsePort(port);
      if (!parsed.ok) report([...at, "ports", i], parsed.message);
    });
  }

  const schedule = asRecord(rule["schedule"]);
  if (schedule) checkSchedule(schedule, [...at, "schedule"], report);

  const limits = asRecord(rule["limits"]);
  if (limits) {
    for (const key of ["maxBytesIn", "maxBytesOut", "maxMessageBytes", "maxPublishBytes"] as const) {
      checkQuantity(limits[key], [...at, "limits", key], report);
    }
    checkSafeInteger(limits["maxDurationSeconds"], [...at, "limits", "maxDurationSeconds"], report);
    const framing = asRecord(limits["framing"]);
    if (framing) checkFraming(framing, [...at, "limits", "framing"], report);
  }
  // Client ids and PUBLISH sizes are read by the filter's MQTT framing: without it nothing would enforce them.
  const mqttFramed = asRecord(limits?.["framing"])?.["type"] === "mqtt";
  if (!mqttFramed) {
    if (from?.["mqttClientIds"] !== undefined) report([...at, "from", "mqttClientIds"], "needs limits.framing { type: mqtt } (client ids are read from the MQTT CONNECT)");
    if (limits?.["maxPublishBytes"] !== undefined) report([...at, "limits", "maxPublishBytes"], "needs limits.framing { type: mqtt } (payload sizes are read from MQTT PUBLISH packets)");
  }

  checkDuration(rule["protocolDetectionTimeout"], [...at, "protocolDetectionTimeout"], report);
  const perSource = asRecord(rule["perSource"]);
  if (perSource) {
    const where: FieldPath = [...at, "perSource"];
    checkDuration(perSource["window"], [...where, "window"], report);
    checkQuantity(perSource["maxBytes"], [...where, "maxBytes"], report);
    checkSafeInteger(perSource["maxConnections"], [...where, "maxConnections"], report);
    checkSafeInteger(perSource["maxDistinctPorts"], [...where, "maxDistinctPorts"], report);
    checkSafeInteger(perSource["maxSources"], [...where, "maxSources"], report);
    if (perSource["maxBytes"] === undefined && perSource["maxConnections"] === undefined && perSource["maxDistinctPorts"] === undefined) {
      report(where, "sets no limit: give maxBytes, maxConnections or maxDistinctPorts (or remove perSource)");
    }
  }
}

function checkSchedule(schedule: Record<string, unknown>, at: FieldPath, report: Report): void {
  const zone = schedule["timezone"];
  if (typeof zone === "string") {
    const checked = checkTimeZone(zone);
    if (!checked.ok) report([...at, "timezone"], checked.message);
  }
  const windows = schedule["windows"];
  if (!Array.isArray(windows)) return;
  windows.forEach((window: unknown, i) => {
    const w = asRecord(window);
    if (!w) return;
    const where: FieldPath = [...at, "windows", i];
    const start = typeof w["start"] === "string" ? parseClock(w["start"], false) : undefined;
    const end = typeof w["end"] === "string" ? parseClock(w["end"], true) : undefined;
    if (start && !start.ok) report([...where, "start"], start.message);
    if (end && !end.ok) report([...where, "end"], end.message);
    if (start?.ok && end?.ok && start.value === end.value) {
      report([...where, "end"], `must differ from start (for a whole day write start "00:00", end "24:00")`);
    }
  });
}

function checkFraming(framing: Record<string, unknown>, at: FieldPath, report: Report): void {
  const type = framing["type"];
  if (typeof type !== "string" || !(type in FRAMING_FIELDS)) return; // the schema's enum reports it
  const allowed: readonly string[] = FRAMING_FIELDS[type as FramingType];
  for (const key of Object.keys(framing)) {
    if (key !== "type" && !allowed.includes(key)) report([...at, key], `does not apply to framing type ${type}`);
  }
  if (type === "lengthPrefixed") {
    if (framing["width"] === undefined) report([...at, "width"], "is required for framing type lengthPrefixed (1, 2, 4 or 8)");
    checkSafeInteger(framing["offset"], [...at, "offset"], report);
    const adjustment = framing["adjustment"];
    if (typeof adjustment === "number" && Number.isInteger(adjustment) && Math.abs(adjustment) > MAX_CONFIG_NUMBER) {
      report([...at, "adjustment"], `${adjustment} is too large (at most 2^53 - 1 either way)`);
    }
  }
  if (type === "delimited") {
    const delimiter = framing["delimiter"];
    if (delimiter === undefined) report([...at, "delimiter"], `is required for framing type delimited (1 to 4 bytes, e.g. "\\n")`);
    else if (typeof delimiter === "string") {
      const length = delimiterBytes(delimiter).length;
      if (length < 1 || length > 4) report([...at, "delimiter"], `must be 1 to 4 bytes (got ${length}; write control characters with YAML double-quoted escapes such as "\\r\\n")`);
    }
  }
}

/** A TLS server name pattern: a DNS name (at most 255 bytes, as in SNI), or `*.` and one. */
function checkServerName(text: string): Parsed<string> {
  const name = text.startsWith("*.") ? text.slice(2) : text;
  const labels = name.split(".");
  const ok = name.length > 0 && text.length <= 255 && labels.every((l) => /^[A-Za-z0-9]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?$/.test(l));
  if (!ok) return { ok: false, message: `${JSON.stringify(text)} is not a server name (a DNS name, or "*." followed by one)` };
  return { ok: true, value: text };
}

/** MQTT client id patterns: exact, `prefix*` or `*`; ids are UTF-8 of at most 256 bytes (the filter keeps no longer one). */
function checkClientIdPattern(text: string): Parsed<string> {
  if (text === "") return { ok: false, message: "must not be empty" };
  if (/\s/.test(text)) return { ok: false, message: `${JSON.stringify(text)} must not contain whitespace` };
  const star = text.indexOf("*");
  if (star >= 0 && star !== text.length - 1) return { ok: false, message: `${JSON.stringify(text)}: '*' may only be the last character (a prefix) or the whole pattern` };
  if (Buffer.byteLength(text) > 257) return { ok: false, message: `${JSON.stringify(text)} is longer than an MQTT client id picoseg reads (256 bytes)` };
  return { ok: true, value: text };
}

/**
 * Principals are matched against the peer's URI SAN: exact, `prefix*`, `*suffix` or `*`.
 * Istio writes principals without the `spiffe://` scheme; such a value would never match here.
 */
function checkPrincipal(text: string): Parsed<string> {
  if (text === "") return { ok: false, message: "must not be empty" };
  if (/\s/.test(text)) return { ok: false, message: `${JSON.stringify(text)} must not contain whitespace` };
  const stars = text.split("*").length - 1;
  const wellPlaced = stars === 0 || (stars === 1 && (text.startsWith("*") || text.endsWith("*")));
  if (!wellPlaced) {
    return { ok: false, message: `${JSON.stringify(text)}: '*' may only be the whole pattern, its first or its last character` };
  }
  if (/^[^/:*]+\/ns\/[^/]+\/sa\/[^/]+$/.test(text)) {
    return { ok: false, message: `${JSON.stringify(text)} is an Istio-style principal; the filter matches the full SPIFFE ID: write "spiffe://${text}"` };
  }
  return { ok: true, value: text };
}

function checkMatchLabels(labels: Record<string, unknown> | undefined, report: Report): void {
  if (!labels) return;
  for (const [key, value] of Object.entries(labels)) {
    const at: FieldPath = ["spec", "selector", "matchLabels", key];
    if (!isLabelKey(key)) report(at, `${JSON.stringify(key)} is not a Kubernetes label key`);
    if (typeof value === "string" && !(value === "" || LABEL_NAME.test(value))) {
      report(at, `${JSON.stringify(value)} is not a Kubernetes label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`);
    }
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const RULE_NAME = LABEL_NAME;

function isDnsLabel(text: string): boolean {
  return DNS_LABEL.test(text);
}

function isLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash < 0) return LABEL_NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix) && LABEL_NAME.test(key.slice(slash + 1));
}

function checkQuantity(value: unknown, at: FieldPath, report: Report): void {
  if (typeof value === "string" || (typeof value === "number" && Number.isInteger(value) && value >= 0)) {
    const parsed = parseQuantity(value);
    if (!parsed.ok) report(at, parsed.message);
  }
}

function checkDuration(value: unknown, at: FieldPath, report: Report): void {
  if (typeof value !== "string") return;
  const parsed = parseDuration(value);
  if (!parsed.ok) report(at, parsed.message);
}

function checkSafeInteger(value: unknown, at: FieldPath, report: Report): void {
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    report(at, `${value} is too large (at most 2^53 - 1)`);
  }
}

function eachString(list: unknown, at: FieldPath, report: Report, check: (text: string) => Parsed<unknown>): void {
  if (!Array.isArray(list)) return;
  list.forEach((item: unknown, i) => {
    if (typeof item !== "string") return;
    const parsed = check(item);
    if (!parsed.ok) report([...at, i], parsed.message);
  });
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * What is valid but probably wrong: the lengthPrefixed form that earlier documentation gave
 * for Postgres (offset 1, width 4, adjustment -4) misreads the client's untyped StartupMessage
 * and SSLRequest, so message boundaries drift from the first byte; `{ type: postgres }` frames
 * them as the wire has them.
 */
export function semanticWarnings(doc: SourceDocument, file: string): LocatedError[] {
  const warnings: LocatedError[] = [];
  const rules = asRecord(asRecord(doc.value)?.["spec"])?.["rules"];
  if (!Array.isArray(rules)) return warnings;
  rules.forEach((rule: unknown, i) => {
    const r = asRecord(rule);
    const framing = asRecord(asRecord(r?.["limits"])?.["framing"]);
    if (framing?.["type"] !== "lengthPrefixed") return;
    const protocols = r?.["protocols"];
    const postgresForm = framing["offset"] === 1 && framing["width"] === 4 && framing["adjustment"] === -4;
    const postgresOnly = Array.isArray(protocols) && protocols.includes("postgres");
    if (!postgresForm && !postgresOnly) return;
    const path: FieldPath = ["spec", "rules", i, "limits", "framing"];
    warnings.push(errorAt(doc, file, path, formatPath(path),
      "lengthPrefixed misframes Postgres: the StartupMessage and SSLRequest have no type byte, so every later boundary drifts; write framing: { type: postgres }"));
  });
  return warnings;
}
