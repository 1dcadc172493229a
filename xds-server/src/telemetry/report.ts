// Reads the body a filter sends on its report channel (api/report.ts says what it holds). Every
// field is checked here, so that nothing downstream (store, learn, what-if) meets a surprise.
import { parseFramingText } from "../policy/index.js";
import { PROTOCOLS, type Protocol } from "../../../api/picosegment.js";
import { MAX_REPORT_BYTES, type ConnAggregate, type DenialAggregate, type MinMax, type ProxyReport, type SumMinMax } from "../../../api/report.js";
import { REASONS, type Reason } from "../../../api/decision.js";

export class ReportError extends Error {}

/** Parses and checks one body; throws ReportError naming the field at fault. */
export function parseReport(body: Buffer | string): ProxyReport {
  const size = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  if (size > MAX_REPORT_BYTES) throw new ReportError(`report of ${size} bytes is larger than ${MAX_REPORT_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw new ReportError(`report is not JSON: ${(err as Error).message}`);
  }
  const r = obj(raw, "report");
  if (r["v"] !== 1) throw new ReportError(`v: expected 1, got ${JSON.stringify(r["v"])}`);
  const node = text(r["node"], "node");
  if (node === "") throw new ReportError("node: empty (the filter could not read its node id)");
  const from = int(r["from"], "from");
  const to = int(r["to"], "to");
  if (to < from) throw new ReportError(`to: ${to} is before from ${from}`);
  const dropped = obj(r["dropped"], "dropped");
  return {
    v: 1,
    node,
    boot: int(r["boot"], "boot"),
    instance: r["instance"] === undefined ? 0 : u32(r["instance"], "instance"),
    seq: int(r["seq"], "seq"),
    from,
    to,
    conns: list(r["conns"], "conns").map((c, i) => connAggregate(c, `conns[${i}]`)),
    denials: list(r["denials"], "denials").map((d, i) => denialAggregate(d, `denials[${i}]`)),
    dropped: { conns: int(dropped["conns"], "dropped.conns"), denials: int(dropped["denials"], "dropped.denials") },
  };
}

function connAggregate(v: unknown, at: string): ConnAggregate {
  const c = obj(v, at);
  const n = int(c["n"], `${at}.n`);
  if (n < 1) throw new ReportError(`${at}.n: an aggregate holds at least one connection`);
  const hour = int(c["hour"], `${at}.hour`);
  if (hour > 167) throw new ReportError(`${at}.hour: ${hour} is not an hour of the week (0-167)`);
  const proto = c["proto"];
  if (proto !== null && !(typeof proto === "string" && (PROTOCOLS as readonly string[]).includes(proto))) {
    throw new ReportError(`${at}.proto: ${JSON.stringify(proto)} is not one of ${PROTOCOLS.join(", ")} or null`);
  }
  return {
    principal: text(c["principal"], `${at}.principal`),
    ip: text(c["ip"], `${at}.ip`),
    port: port(c["port"], `${at}.port`),
    proto: proto as Protocol | null,
    hour,
    n,
    in: sumMinMax(c["in"], `${at}.in`),
    out: sumMinMax(c["out"], `${at}.out`),
    msg: minMax(c["msg"], `${at}.msg`),
    framing: framing(c["framing"], `${at}.framing`),
    dur: minMax(c["dur"], `${at}.dur`),
  };
}

function denialAggregate(v: unknown, at: string): DenialAggregate {
  const d = obj(v, at);
  const reason = d["reason"];
  if (typeof reason !== "string" || !(REASONS as readonly string[]).includes(reason)) {
    throw new ReportError(`${at}.reason: ${JSON.stringify(reason)} is not a picoseg reason`);
  }
  const mode = d["mode"];
  if (mode !== "enforce" && mode !== "audit") throw new ReportError(`${at}.mode: expected enforce or audit`);
  const n = int(d["n"], `${at}.n`);
  if (n < 1) throw new ReportError(`${at}.n: at least one denial`);
  return { reason: reason as Reason, principal: text(d["principal"], `${at}.principal`), ip: text(d["ip"], `${at}.ip`), port: d["port"] === null ? null : port(d["port"], `${at}.port`), mode, n };
}

function obj(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ReportError(`${at}: expected an object`);
  return v as Record<string, unknown>;
}

function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new ReportError(`${at}: expected an array`);
  return v;
}

function text(v: unknown, at: string): string {
  if (typeof v !== "string") throw new ReportError(`${at}: expected a string`);
  if (v.length > 1024) throw new ReportError(`${at}: longer than 1024 characters`);
  return v;
}

function int(v: unknown, at: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ReportError(`${at}: expected a non-negative integer`);
  return v;
}

function u32(v: unknown, at: string): number {
  const n = int(v, at);
  if (n > 0xffffffff) throw new ReportError(`${at}: ${n} is larger than 32 bits`);
  return n;
}

function port(v: unknown, at: string): number {
  const p = int(v, at);
  if (p > 65535) throw new ReportError(`${at}: ${p} is not a port`);
  return p;
}

function framing(v: unknown, at: string): string {
  if (v === undefined) return "chunk";
  const t = text(v, at);
  if (parseFramingText(t) === undefined) throw new ReportError(`${at}: ${JSON.stringify(t)} is not a framing (chunk, lengthPrefixed OFFSET WIDTH ENDIAN ADJUSTMENT, delimited HEX, postgres, mqtt, kafka)`);
  return t;
}

function sumMinMax(v: unknown, at: string): SumMinMax {
  const a = list(v, at);
  if (a.length !== 3) throw new ReportError(`${at}: expected [sum, min, max]`);
  const [sum, lo, hi] = a.map((x, i) => int(x, `${at}[${i}]`)) as SumMinMax;
  if (lo > hi || hi > sum) throw new ReportError(`${at}: expected min <= max <= sum`);
  return [sum, lo, hi];
}

function minMax(v: unknown, at: string): MinMax {
  const a = list(v, at);
  if (a.length !== 2) throw new ReportError(`${at}: expected [min, max]`);
  const [lo, hi] = a.map((x, i) => int(x, `${at}[${i}]`)) as MinMax;
  if (lo > hi) throw new ReportError(`${at}: expected min <= max`);
  return [lo, hi];
}
