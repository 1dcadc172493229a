// Configuration strings for the fuzzer: valid ones generated from the grammar of
// filter/CONFIG.md with random rules, ones broken in a way the grammar says must be
// rejected, and garbage whose validity is unknown.
import { parseCidr } from "../../xds-server/src/policy/cidr.js";
import type { Rng } from "./prng.js";

export const MAX_NUMBER = 2 ** 53;
export const PROTOCOLS = ["tls", "http1", "http2", "ssh", "postgres", "mysql", "redis", "mongodb", "mqtt", "amqp", "kafka", "nats", "unknown"] as const;

export type Framing =
  | { type: "chunk" }
  | { type: "lengthPrefixed"; offset: number; width: 1 | 2 | 4 | 8; big: boolean; adjustment: number }
  | { type: "delimited"; delimiter: Uint8Array }
  | { type: "postgres" | "mqtt" | "kafka" };

/** A `tz` line: UTC offset in minutes before the first transition, then offs[i] from Unix second ats[i] on. */
export interface TzTable {
  base: number;
  ats: number[];
  offs: number[];
}

/** One rule's schedule: its time zone table and [start, end) windows in minutes of the local week. */
export interface Schedule {
  tz: TzTable;
  windows: [number, number][];
}

/** CONFIG.md's window semantics: local minute of the week m is inside when START <= m < END or START <= m + 10080 < END. */
export function inSchedule(sch: Schedule, ms: number): boolean {
  const t = Math.floor(ms / 1000);
  let off = sch.tz.base;
  for (let i = 0; i < sch.tz.ats.length; i++) if (sch.tz.ats[i]! <= t) off = sch.tz.offs[i]!;
  const localMin = Math.floor(t / 60) + off;
  const day = Math.floor(localMin / 1440);
  const weekday = (((day + 3) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  const m = weekday * 1440 + (localMin - day * 1440);
  return sch.windows.some(([s, e]) => (s <= m && m < e) || (s <= m + 10080 && m + 10080 < e));
}

/** What the fuzz driver needs to know about a configuration to check invariants. */
export interface ConfigCase {
  /** null: no configuration at all. */
  text: string | null;
  /** valid: follows the grammar; invalid: the grammar says reject; garbage: unknown. */
  kind: "valid" | "invalid" | "garbage";
  /** How it was made (for the failure message). */
  how: string;
  /** Valid only: segments and rules. */
  segments: number;
  rules: number;
  allEnforce: boolean;
  allAudit: boolean;
  /** Valid, all-enforce only: every rule has maxBytesIn (Out); the largest of them, else null. */
  boundIn: number | null;
  boundOut: number | null;
  /** Valid, all-enforce only: every rule has this schedule, else null. */
  schedule: Schedule | null;
  /** Valid, all-enforce only: every rule has this maxDurationSeconds, else null. */
  durationBound: number | null;
  /** Framings used by the rules (to shape streams). */
  framings: Framing[];
  /** Ports named by the rules (to aim connections at). */
  ports: number[];
  /** Principal patterns and CIDRs named by the rules. */
  principals: string[];
  cidrs: string[];
  /** Protocols named by the rules. */
  protocols: string[];
  /** Some rule has serverName lines: admission waits for the client's ClientHello, even on plain TCP. */
  serverNames: boolean;
}

const NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-";

function k8sName(rng: Rng): string {
  const n = rng.int(1, 12);
  let s = String.fromCharCode(97 + rng.int(0, 25));
  for (let i = 1; i < n; i++) s += NAME_CHARS[rng.int(0, NAME_CHARS.length - 1)];
  return s.endsWith("-") ? s + "x" : s;
}

/** A number in [0, max], biased to the edges that matter (0, 1, small, max, 2^32 and 2^53 borders). */
export function edgyNumber(rng: Rng, max = MAX_NUMBER): number {
  const r = rng.int(0, 9);
  let v: number;
  if (r === 0) v = 0;
  else if (r === 1) v = rng.int(1, 8);
  else if (r <= 4) v = rng.int(0, 300);
  else if (r === 5) v = rng.int(0, 100_000);
  else if (r === 6) v = rng.pick([255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1]);
  else if (r === 7) v = MAX_NUMBER - rng.int(0, 2);
  else v = rng.int(0, MAX_NUMBER);
  return Math.min(v, max);
}

/** A random principal pattern: exact, `prefix*`, `*suffix` or `*`. */
export const PRINCIPAL_POOL = [
  "spiffe://cluster.local/ns/payments/sa/api",
  "spiffe://cluster.local/ns/ops/sa/admin",
  "spiffe://cluster.local/ns/shop/sa/web",
  "spiffe://other.domain/ns/x/sa/y",
];

function principalPattern(rng: Rng): string {
  const base = rng.pick(PRINCIPAL_POOL);
  const r = rng.int(0, 5);
  if (r === 0) return "*";
  if (r === 1) return base.slice(0, rng.int(0, base.length)) + "*";
  if (r === 2) return "*" + base.slice(rng.int(0, base.length));
  if (r === 3) return "spiffe://" + k8sName(rng) + "/" + k8sName(rng);
  return base;
}

/** Canonical CIDRs (host bits zero), v4 and v6, around the addresses the fuzz connects from. */
export function cidr(rng: Rng): string {
  if (rng.chance(0.6)) {
    const base = rng.pick([[10, 1, 2, 3], [10, 1, 9, 7], [192, 168, 1, 7], [127, 0, 0, 1], [0, 0, 0, 0]]);
    const addr = rng.chance(0.3) ? [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)] : base;
    const len = rng.chance(0.3) ? rng.int(0, 32) : rng.pick([0, 8, 16, 24, 32]);
    let v = ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0;
    v = len === 0 ? 0 : (v & ((0xffffffff << (32 - len)) >>> 0)) >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`;
  }
  const bases = [1n, 0xfd000001000200000000000000000007n, 0xfe800000000000000000000000000001n, 0x20010db8000000000000000000000000n];
  let v = rng.chance(0.3) ? BigInt.asUintN(128, (BigInt(rng.u32()) << 96n) | (BigInt(rng.u32()) << 64n) | (BigInt(rng.u32()) << 32n) | BigInt(rng.u32())) : rng.pick(bases);
  const len = rng.chance(0.4) ? rng.int(0, 128) : rng.pick([0, 8, 48, 64, 128]);
  const mask = len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
  v &= mask;
  // Written out uncompressed; the policy's own parser prints the RFC 5952 form the compiler emits.
  const groups = Array.from({ length: 8 }, (_, i) => ((v >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  const parsed = parseCidr(`${groups.join(":")}/${len}`);
  if (!parsed.ok) throw new Error(`fuzz generated a bad CIDR: ${parsed.message}`);
  return parsed.value.canonical;
}

function spaces(rng: Rng): string {
  return rng.chance(0.9) ? " " : " ".repeat(rng.int(2, 4));
}

function line(rng: Rng, ...tokens: (string | number)[]): string {
  const lead = rng.chance(0.03) ? " " : "";
  const trail = rng.chance(0.03) ? "  " : "";
  return lead + tokens.map(String).join(spaces(rng)) + trail;
}

function framing(rng: Rng): Framing {
  if (rng.chance(0.3)) return { type: rng.pick(["postgres", "mqtt", "kafka"] as const) };
  const r = rng.int(0, 2);
  if (r === 0) return { type: "chunk" };
  if (r === 1) {
    const width = rng.pick([1, 2, 4, 8] as const);
    const offset = rng.chance(0.9) ? rng.int(0, 8) : edgyNumber(rng);
    const adj = rng.chance(0.8) ? rng.int(-8, 8) : (rng.chance(0.5) ? -1 : 1) * edgyNumber(rng);
    return { type: "lengthPrefixed", offset, width, big: rng.chance(0.7), adjustment: adj };
  }
  const n = rng.int(1, 4);
  const d = rng.chance(0.5) ? Uint8Array.from([0x0d, 0x0a, 0x00, 0xff].slice(0, n)) : rng.bytes(n);
  return { type: "delimited", delimiter: d };
}

function framingLine(rng: Rng, f: Framing): string {
  if (f.type === "chunk") return line(rng, "framing", "chunk");
  if (f.type === "lengthPrefixed") return line(rng, "framing", "lengthPrefixed", f.offset, f.width, f.big ? "big" : "little", f.adjustment);
  if (f.type !== "delimited") return line(rng, "framing", f.type);
  let hex = "";
  for (const b of f.delimiter) hex += b.toString(16).padStart(2, "0");
  return line(rng, "framing", "delimited", rng.chance(0.2) ? hex.toUpperCase() : hex);
}

/** A configuration that follows CONFIG.md's grammar, with random segments and rules. */
export function validConfig(rng: Rng): ConfigCase {
  const lines: string[] = [line(rng, "picoseg", 1)];
  // Budgeted: every rule has the same maxBytesIn and maxBytesOut, so the bound the
  // driver checks is exact for whichever rule governs a connection.
  const budgeted = rng.chance(0.35);
  const uniformIn = rng.int(0, 300);
  const uniformOut = rng.int(0, 300);
  const uniformDuration = budgeted && rng.chance(0.5) ? rng.int(0, 20) : null;
  const framings: Framing[] = [];
  const ports: number[] = [];
  const principals: string[] = [];
  const cidrs: string[] = [];
  const protocols: string[] = [];
  let serverNames = false;
  if (rng.chance(0.5)) lines.push(line(rng, "generation", edgyNumber(rng)));
  const tzIds: number[] = [];
  const tzLines: string[] = [];
  const tzTables = new Map<number, TzTable>();
  const ntz = rng.int(0, 3);
  for (let i = 0; i < ntz; i++) {
    let id: number;
    do id = rng.chance(0.8) ? rng.int(0, 4) : rng.int(0, 1023); while (tzIds.includes(id));
    tzIds.push(id);
    const table: TzTable = { base: rng.int(-1440, 1440), ats: [], offs: [] };
    tzTables.set(id, table);
    const toks: (string | number)[] = ["tz", id, table.base];
    let at = rng.chance(0.5) ? rng.int(0, 1_700_000_000) : rng.int(1_760_000_000, 1_800_000_000);
    const n = rng.int(0, 6);
    for (let k = 0; k < n; k++) {
      const off = rng.chance(0.8) ? rng.pick([-300, -240, 0, 60, 120, 330]) : rng.int(-1440, 1440);
      toks.push(at, off);
      table.ats.push(at);
      table.offs.push(off);
      at += rng.int(1, 20_000_000);
    }
    tzLines.push(line(rng, ...toks));
  }
  // Budgeted configurations may also give every rule the same schedule (exact bound for the driver).
  let uniformSchedule: (Schedule & { id: number }) | null = null;
  if (budgeted && tzIds.length > 0 && rng.chance(0.5)) {
    const id = rng.pick(tzIds);
    const windows: [number, number][] = [];
    for (let i = rng.int(0, 3); i > 0; i--) {
      const start = rng.int(0, 10079);
      windows.push([start, rng.chance(0.2) ? start + 10080 : rng.int(start + 1, Math.min(start + 10080, start + rng.pick([60, 600, 3000, 10080])))]);
    }
    uniformSchedule = { id, tz: tzTables.get(id)!, windows };
  }
  const body: string[] = [];
  const nseg = rng.chance(0.05) ? 0 : rng.int(1, 3);
  let nrules = 0;
  let audits = 0;
  let budgetIn = 0;
  let budgetOut = 0;
  for (let s = 0; s < nseg; s++) {
    const audit = rng.chance(0.2);
    if (audit) audits++;
    body.push(line(rng, "segment", `${k8sName(rng)}/${k8sName(rng)}`, audit ? "audit" : "enforce"));
    if (rng.chance(0.4)) body.push(line(rng, "quarantine", rng.int(1, 5), rng.chance(0.9) ? rng.int(1, 3600) : edgyNumber(rng) || 1, rng.chance(0.9) ? rng.int(0, 3600) : edgyNumber(rng)));
    const nr = rng.int(s === 0 ? 1 : 0, 4);
    for (let k = 0; k < nr; k++) {
      nrules++;
      body.push(line(rng, "rule", `${k8sName(rng)}${k}`));
      const attrs: string[] = [];
      for (let i = rng.chance(0.7) ? 0 : rng.int(1, 3); i > 0; i--) {
        const p = principalPattern(rng);
        principals.push(p);
        attrs.push(line(rng, "principal", p));
      }
      for (let i = rng.chance(0.6) ? 0 : rng.int(1, 3); i > 0; i--) {
        const c = cidr(rng);
        cidrs.push(c);
        attrs.push(line(rng, "ip", c));
      }
      for (let i = rng.chance(0.8) ? 0 : rng.int(1, 2); i > 0; i--) attrs.push(line(rng, "notip", cidr(rng)));
      for (let i = rng.chance(0.5) ? 0 : rng.int(1, 3); i > 0; i--) {
        const lo = rng.chance(0.7) ? rng.pick([80, 443, 5432, 6379, 8000, 0, 65535]) : rng.int(0, 65535);
        const hi = rng.chance(0.6) ? lo : Math.min(65535, lo + rng.int(0, 200));
        ports.push(lo, hi);
        attrs.push(line(rng, "port", lo, hi));
      }
      for (let i = rng.chance(0.6) ? 0 : rng.int(1, 3); i > 0; i--) {
        const p = rng.pick(PROTOCOLS);
        protocols.push(p);
        attrs.push(line(rng, "protocol", p));
      }
      if (uniformSchedule !== null) {
        attrs.push(line(rng, "schedule", uniformSchedule.id));
        for (const [a, b] of uniformSchedule.windows) attrs.push(line(rng, "window", a, b));
      } else if (tzIds.length > 0 && rng.chance(0.3)) {
        attrs.push(line(rng, "schedule", rng.pick(tzIds)));
        for (let i = rng.int(0, 3); i > 0; i--) {
          const start = rng.int(0, 10079);
          const end = rng.chance(0.2) ? start + 10080 : rng.int(start + 1, start + 10080);
          attrs.push(line(rng, "window", start, end));
        }
      }
      if (budgeted || rng.chance(0.3)) {
        const n = budgeted ? uniformIn : rng.chance(0.7) ? rng.int(0, 400) : edgyNumber(rng);
        budgetIn = Math.max(budgetIn, n);
        attrs.push(line(rng, "maxBytesIn", n));
      } else budgetIn = Infinity;
      if (budgeted || rng.chance(0.3)) {
        const n = budgeted ? uniformOut : rng.chance(0.7) ? rng.int(0, 400) : edgyNumber(rng);
        budgetOut = Math.max(budgetOut, n);
        attrs.push(line(rng, "maxBytesOut", n));
      } else budgetOut = Infinity;
      let framed: Framing | null = null;
      if (rng.chance(0.5)) {
        attrs.push(line(rng, "maxMessageBytes", rng.chance(0.8) ? rng.int(0, 200) : edgyNumber(rng)));
        if (rng.chance(0.85)) framed = framing(rng);
      } else if (rng.chance(0.1)) framed = framing(rng);
      if (framed !== null) {
        framings.push(framed);
        attrs.push(framingLine(rng, framed));
        // Under mqtt framing: client ids by prefix, and PUBLISH payload sizes.
        if (framed.type === "mqtt") {
          for (let i = rng.chance(0.5) ? 0 : rng.int(1, 2); i > 0; i--) attrs.push(line(rng, "mqttClientId", rng.pick(["sensor-*", "*", "sensor-1", "dev"])));
          if (rng.chance(0.5)) attrs.push(line(rng, "maxPublishBytes", rng.chance(0.8) ? rng.int(0, 300) : edgyNumber(rng)));
        }
      }
      for (let i = rng.chance(0.9) ? 0 : rng.int(1, 2); i > 0; i--) {
        serverNames = true;
        attrs.push(line(rng, "serverName", rng.pick(["api.example", "*.example", "API.Example"])));
      }
      if (uniformDuration !== null) attrs.push(line(rng, "maxDurationSeconds", uniformDuration));
      else if (rng.chance(0.25)) attrs.push(line(rng, "maxDurationSeconds", rng.chance(0.8) ? rng.int(0, 30) : edgyNumber(rng)));
      if (rng.chance(0.3)) {
        const lim = (): string | number => (rng.chance(0.3) ? "-" : rng.chance(0.8) ? rng.int(0, 50) : edgyNumber(rng));
        // MAXSOURCES: sometimes a tiny table, so that sources evict each other.
        const sources = rng.chance(0.7) ? [] : [rng.chance(0.5) ? rng.int(1, 4) : Math.max(1, edgyNumber(rng))];
        attrs.push(line(rng, "perSource", rng.chance(0.9) ? rng.int(1, 600) : Math.max(1, edgyNumber(rng)), rng.chance(0.5) ? rng.int(0, 5000) : lim(), lim(), lim(), ...sources));
      }
      // Attribute order within a rule is free.
      for (let i = attrs.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [attrs[i], attrs[j]] = [attrs[j]!, attrs[i]!];
      }
      body.push(...attrs);
    }
  }
  // tz lines anywhere after the header (the grammar fixes no order for them).
  for (const t of tzLines) {
    if (rng.chance(0.7) || body.length === 0) lines.push(t);
    else body.splice(rng.int(0, body.length), 0, t);
  }
  lines.push(...body);
  lines.push(line(rng, "end"));
  // Empty lines anywhere.
  const out: string[] = [];
  for (const l of lines) {
    if (rng.chance(0.03)) out.push(rng.chance(0.5) ? "" : "   ");
    out.push(l);
  }
  const allEnforce = nseg > 0 && audits === 0;
  return {
    text: out.join("\n") + (rng.chance(0.8) ? "\n" : ""),
    kind: "valid",
    how: budgeted ? "valid (budgeted)" : "valid",
    segments: nseg,
    rules: nrules,
    allEnforce,
    allAudit: nseg > 0 && audits === nseg,
    boundIn: allEnforce && nrules > 0 && Number.isFinite(budgetIn) ? budgetIn : null,
    boundOut: allEnforce && nrules > 0 && Number.isFinite(budgetOut) ? budgetOut : null,
    durationBound: allEnforce && nrules > 0 ? uniformDuration : null,
    schedule: allEnforce && nrules > 0 && uniformSchedule !== null ? { tz: uniformSchedule.tz, windows: uniformSchedule.windows } : null,
    framings,
    ports,
    principals,
    cidrs,
    protocols,
    serverNames,
  };
}

function withoutFacts(text: string | null, kind: ConfigCase["kind"], how: string): ConfigCase {
  return {
    text, kind, how, segments: 0, rules: 0, allEnforce: false, allAudit: false, boundIn: null, boundOut: null, durationBound: null, schedule: null,
    framings: [], ports: [], principals: [], cidrs: [], protocols: [], serverNames: false,
  };
}

/** Lines the grammar rejects wherever they stand inside a rule. */
const BAD_RULE_LINES: readonly string[] = [
  "maxBytesIn 9007199254740993", "maxBytesIn 99999999999999999999", "maxBytesIn -1", "maxBytesIn 1e3", "maxBytesIn 0x10",
  "maxBytesOut 18446744073709551616", "maxMessageBytes -5", "maxDurationSeconds 1.5", "maxBytesIn", "maxBytesIn 1 2",
  "port 65536 65536", "port 10 9", "port -1 5", "port 80", "port 1 2 3", "port a b",
  "window 10080 10081", "window 5 5", "window 0 10081", "window 7 3", "window -1 4",
  "ip 10.0.0.1/8", "ip 10.0.0.0/33", "ip 300.1.1.1/8", "ip ::g/64", "ip 10.0.0.0", "ip /8", "ip 10.0.0.0/",
  "ip 1:2:3:4:5:6:7:8:9/128", "ip 10.0.0.0/-1", "ip 01.2.3.4/32", "ip ::1/129", "ip fd00::1/64", "notip 1.2.3.4/24",
  "ip 1::2::3/128", "ip 10.0.0.0/8/8", "ip 10.0.0.0/0008", "ip [::1]/128",
  "framing lengthPrefixed 0 3 big 0", "framing lengthPrefixed 0 4 middle 0", "framing lengthPrefixed 0 4 big",
  "framing lengthPrefixed -1 4 big 0", "framing lengthPrefixed 0 16 little 0", "framing lengthPrefixed 0 4 big 9007199254740993",
  "framing delimited 0", "framing delimited 123", "framing delimited zz", "framing delimited 0a0b0c0d0e", "framing delimited",
  "framing chunk extra", "framing lines", "framing", "framing postgres 1", "framing mqtt big", "framing Kafka",
  "mqttClientId", "mqttClientId a b", "maxPublishBytes -1", "maxPublishBytes", "serverName", "serverName a b",
  "protocol ftp", "protocol TLS", "protocol", "principal", "principal a b",
  "schedule 1024", "schedule -1", "schedule",
  "perSource 0 - - -", "perSource 10 - -", "perSource 10 -1 - -", "perSource - 1 1 1", "perSource 10 - - - 0", "perSource 10 - - - -",
  "perSource 10 - - - 1 2",
  "bogus 1", "Rule x", "maxbytesin 5",
];

const BAD_TOP_LINES: readonly string[] = [
  "tz 0 1441", "tz 0 -1441", "tz 0 60 100 120 100 60", "tz 0 60 100", "tz 1024 0", "tz x 0", "tz 0",
  "generation -1", "generation 9007199254740993", "generation", "generation 1 2",
  "segment a/b maybe", "segment a/b", "segment a/b enforce extra",
  "quarantine 0 1 1", "quarantine 1 0 1", "quarantine 1 1", "quarantine -1 1 1",
  "end now", "picoseg 1", "hello",
];

function mutateValid(rng: Rng, v: ConfigCase): ConfigCase {
  const text = v.text!;
  const lines = text.split("\n");
  const endAt = lines.findIndex((l) => l.trim() === "end");
  const r = rng.int(0, 8);
  if (r === 0) {
    // Truncated anywhere before the `end` line: the grammar says rejected.
    const cut = rng.int(0, text.lastIndexOf("end"));
    return withoutFacts(text.slice(0, cut), "invalid", `truncated at ${cut}`);
  }
  if (r === 1) {
    const hdr = rng.pick(["picoseg 2", "picoseg", "PICOSEG 1", "picoseg 1 1", "picoseg 01", "# picoseg 1", "picoseg\t1"]);
    lines[lines.findIndex((l) => l.trim().length > 0)] = hdr;
    return withoutFacts(lines.join("\n"), "invalid", `header ${JSON.stringify(hdr)}`);
  }
  if (r === 2) {
    const extra = rng.pick(["end", "rule x", "segment a/b enforce", "garbage"]);
    lines.splice(endAt + 1, 0, extra);
    return withoutFacts(lines.join("\n"), "invalid", `after end: ${extra}`);
  }
  if (r === 3) {
    // A rule before any segment.
    lines.splice(1, 0, rng.pick(["rule early", "maxBytesIn 5", "port 1 1", "quarantine 1 1 1"]));
    return withoutFacts(lines.join("\n"), "invalid", "rule or attribute before any segment");
  }
  if (r <= 6) {
    // A bad rule line after some `rule` (adding a segment and rule when there is none).
    const bad = rng.pick(BAD_RULE_LINES);
    const ruleAts = lines.map((l, i) => (l.trim().startsWith("rule ") ? i : -1)).filter((i) => i >= 0);
    if (ruleAts.length === 0) lines.splice(endAt, 0, "segment a/b enforce", "rule r", bad);
    else lines.splice(rng.pick(ruleAts) + 1, 0, bad);
    return withoutFacts(lines.join("\n"), "invalid", `bad rule line ${JSON.stringify(bad)}`);
  }
  if (r === 7) {
    const bad = rng.pick(BAD_TOP_LINES);
    lines.splice(rng.int(1, endAt), 0, bad);
    return withoutFacts(lines.join("\n"), "invalid", `bad line ${JSON.stringify(bad)}`);
  }
  // A schedule that names a time zone the configuration does not define.
  lines.splice(endAt, 0, "segment a/b enforce", "rule r", "schedule 1023", "window 0 10");
  const defines1023 = lines.some((l) => /^\s*tz\s+1023\s/.test(l));
  return withoutFacts(lines.join("\n"), defines1023 ? "garbage" : "invalid", "schedule to an undefined tz");
}

function garbage(rng: Rng, v: ConfigCase): ConfigCase {
  const text = v.text!;
  const r = rng.int(0, 7);
  if (r === 0) {
    // Flip random bytes of a valid string.
    const b = new TextEncoder().encode(text);
    for (let i = rng.int(1, 6); i > 0; i--) b[rng.int(0, b.length - 1)] = rng.u32() & 0xff;
    return withoutFacts(new TextDecoder("latin1").decode(b), "garbage", "byte flips");
  }
  if (r === 1) {
    const lines = text.split("\n");
    for (let i = lines.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    return withoutFacts(lines.join("\n"), "garbage", "shuffled lines");
  }
  if (r === 2) return withoutFacts(String.fromCharCode(...rng.bytes(rng.size(2000))), "garbage", "random bytes");
  if (r === 3) {
    // Random tokens drawn from the grammar's own vocabulary.
    const vocab = ["picoseg", "1", "end", "segment", "rule", "tz", "port", "ip", "notip", "principal", "protocol", "schedule",
      "window", "maxBytesIn", "maxBytesOut", "maxMessageBytes", "framing", "chunk", "lengthPrefixed", "delimited", "big",
      "little", "perSource", "quarantine", "generation", "-", "0", "-1", "65535", "9007199254740992", "9007199254740993",
      "a/b", "audit", "enforce", "10.0.0.0/8", "::/0", "0a", "*", "\r", "\t", "\u0000", "é"];
    const out = ["picoseg 1"];
    for (let i = rng.int(0, 40); i > 0; i--) {
      const toks: string[] = [];
      for (let k = rng.int(1, 7); k > 0; k--) toks.push(rng.pick(vocab));
      out.push(toks.join(" "));
    }
    if (rng.chance(0.7)) out.push("end");
    return withoutFacts(out.join("\n"), "garbage", "random tokens");
  }
  if (r === 4) {
    // Lines, tokens and counts at extremes.
    const pick = rng.int(0, 3);
    if (pick === 0) return withoutFacts(`picoseg 1\nsegment a/b enforce\nrule ${"r".repeat(rng.int(1000, 20000))}\nend\n`, "valid", "a very long rule name");
    if (pick === 1) {
      const toks = Array.from({ length: rng.int(20, 300) }, () => String(rng.int(0, 10080)));
      return withoutFacts(`picoseg 1\ntz 0 0 ${toks.join(" ")}\nend\n`, "garbage", "a tz line with many tokens");
    }
    if (pick === 2) {
      const many = Array.from({ length: rng.int(50, 400) }, (_, i) => `port ${i} ${i}\nprincipal p${i}\nip 10.${i & 255}.0.0/16`).join("\n");
      return withoutFacts(`picoseg 1\nsegment a/b enforce\nrule r\n${many}\nend\n`, "valid", "many attributes");
    }
    return withoutFacts(" ".repeat(rng.int(0, 5000)) + "\n".repeat(rng.int(0, 50)), "invalid", "only whitespace");
  }
  if (r === 5) return withoutFacts("", "invalid", "empty string");
  if (r === 6) return withoutFacts(null, "invalid", "no configuration");
  // Valid text with Windows line ends: `\r` sticks to the last token.
  return withoutFacts(text.replace(/\n/g, "\r\n"), "garbage", "CRLF line ends");
}

/** A configuration for one fuzz episode: mostly valid, some certainly invalid, some garbage. */
export function anyConfig(rng: Rng): ConfigCase {
  const v = validConfig(rng);
  const r = rng.next();
  if (r < 0.72) return v;
  if (r < 0.9) return mutateValid(rng, v);
  return garbage(rng, v);
}
