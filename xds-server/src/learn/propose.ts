// `picoseg learn`: a PicoSegment proposed from a workload's observed traffic, in audit mode, each
// field with a YAML comment saying what it came from. One rule per destination port (and, on a
// port reached both with and without mTLS, one for principals and one for addresses, since a
// rule's `from` fields must all match): the sources seen, the protocols sniffed, a schedule of
// the whole hours seen, limits from the observed maxima times a margin, rounded up to readable
// quantities (maxMessageBytes under the framing the filter measured messages under), and
// per-source limits from the busiest source-hour.
import { parseCidr, parseFramingText, offsetFunction } from "../policy/index.js";
import { DAYS, type Protocol } from "../../../api/picosegment.js";
import { framingYaml } from "./segment.js";
import { sourceHours, type ObservedConns, type Traffic } from "./traffic.js";

export interface ProposeOptions {
  /** The workload, NS/NAME. */
  workload: string;
  /** Limits are the observed maxima times this (>= 1). */
  margin: number;
  /** IANA zone the schedule is written in. */
  timezone: string;
}

const KI = 1024;
const MI = KI * 1024;
const GI = MI * 1024;

/** The proposal as YAML text (one document), ready for `picoseg validate`. */
export function proposeSegment(traffic: Traffic, opts: ProposeOptions): string {
  const [namespace, name] = opts.workload.split("/") as [string, string];
  if (traffic.conns.length === 0) throw new Error(`no connections observed for ${opts.workload} in the period`);
  if (!(opts.margin >= 1)) throw new Error(`margin must be at least 1, got ${opts.margin}`);
  const total = sum(traffic.conns.map((c) => c.n));
  const out: string[] = [
    `# Proposed by picoseg learn from ${count(total)} connections of ${opts.workload}`,
    `# observed ${period(traffic)} in ${count(traffic.reports)} reports; limits are the maxima seen × ${opts.margin}, rounded up.`,
    ...(traffic.dropped.conns > 0
      ? [`# WARNING: the filters dropped ${count(traffic.dropped.conns)} connections for want of room: rare sources may be missing.`]
      : []),
    "# Review it, try it with `picoseg what-if`, run it in audit mode, then set mode: enforce.",
    "apiVersion: picoseg.io/v1alpha1",
    "kind: PicoSegment",
    "metadata:",
    `  name: ${dnsName(`${name}-learned`)}`,
    `  namespace: ${namespace}`,
    "spec:",
    ...selectorLines(traffic.labels),
    "  mode: audit                       # observe → propose → audit → enforce",
    "  rules:",
  ];
  for (const group of ruleGroups(traffic.conns)) out.push(...ruleLines(group, opts));
  return `${out.join("\n")}\n`;
}

interface RuleGroup {
  name: string;
  port: number;
  byPrincipal: boolean;
  conns: ObservedConns[];
}

function ruleGroups(conns: readonly ObservedConns[]): RuleGroup[] {
  const groups = new Map<string, RuleGroup>();
  for (const c of conns) {
    const byPrincipal = c.principal !== "";
    const key = `${c.port}/${byPrincipal}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name: `port-${c.port}`, port: c.port, byPrincipal, conns: [] }));
    g.conns.push(c);
  }
  const list = [...groups.values()].sort((a, b) => a.port - b.port || Number(b.byPrincipal) - Number(a.byPrincipal));
  // A port reached both ways gets two rules; the address one is named so.
  for (const g of list) if (!g.byPrincipal && groups.has(`${g.port}/true`)) g.name = `port-${g.port}-by-address`;
  return list;
}

function ruleLines(g: RuleGroup, opts: ProposeOptions): string[] {
  const n = sum(g.conns.map((c) => c.n));
  const lines = [`    - name: ${g.name}                # ${count(n)} connections`, "      from:"];
  if (g.byPrincipal) {
    const principals = uniqueSorted(g.conns.map((c) => c.principal));
    lines.push(`        principals:                  # the mTLS identities seen`);
    for (const p of principals) lines.push(`          - ${JSON.stringify(p)}   # ${count(connsOf(g.conns, (c) => c.principal === p))} connections`);
  } else {
    const ips = uniqueSorted(g.conns.map((c) => c.ip).filter((ip) => ip !== ""));
    if (ips.length === 0) throw new Error(`port ${g.port}: connections without a source address or principal cannot be proposed`);
    lines.push(`        ipBlocks:                    # the source addresses seen (no mTLS identity)`);
    for (const ip of ips) {
      const block = parseCidr(ip);
      if (!block.ok) throw new Error(`observed source ${ip}: ${block.message}`);
      lines.push(`          - ${JSON.stringify(block.value.canonical)}   # ${count(connsOf(g.conns, (c) => c.ip === ip))} connections`);
    }
  }
  lines.push(`      ports: [${g.port}]`);
  const protocols = g.conns.map((c) => c.proto);
  if (protocols.every((p): p is Protocol => p !== null)) {
    const seen = uniqueSorted(protocols);
    lines.push(`      protocols: [${seen.join(", ")}]   # sniffed: ${seen.map((p) => `${p} ${count(connsOf(g.conns, (c) => c.proto === p))}`).join(", ")}`);
  } else {
    lines.push("      # protocols: not proposed — the observing rule listed no protocols, so none were sniffed");
  }
  lines.push(...scheduleLines(g.conns, opts.timezone));
  lines.push(...limitLines(g.conns, opts.margin));
  lines.push(...perSourceLines(g.conns, opts.margin));
  return lines;
}

function scheduleLines(conns: readonly ObservedConns[], zone: string): string[] {
  const offsetAt = offsetFunction(zone);
  const hours = new Array<boolean>(168).fill(false);
  for (const c of conns) {
    // Local hour of the week; a zone offset that is not whole hours opens the hour it falls in.
    const localMs = c.startedAt + offsetAt(c.startedAt / 1000) * 60_000;
    const localHour = Math.floor((((localMs / 3600_000 + 72) % 168) + 168) % 168);
    hours[localHour] = true;
  }
  const seen = hours.filter(Boolean).length;
  if (seen === 168) return ["      # schedule: none — connections started in every hour of the week"];
  // Runs of whole hours within each day, then days that share a run share a window.
  const windows = new Map<string, string[]>();
  for (let d = 0; d < 7; d++) {
    let h = 0;
    while (h < 24) {
      if (!hours[d * 24 + h]) { h++; continue; }
      const start = h;
      while (h < 24 && hours[d * 24 + h]) h++;
      const key = `${clock(start)}-${clock(h)}`;
      const days = windows.get(key) ?? [];
      days.push(DAYS[d]!);
      windows.set(key, days);
    }
  }
  const lines = [
    `      schedule:                      # connections started in ${seen} of the week's 168 hours (${zone}), rounded to whole hours`,
    `        timezone: ${zone}`,
    "        windows:",
  ];
  for (const [key, days] of windows) {
    const [start, end] = key.split("-") as [string, string];
    lines.push(`          - { days: [${days.join(", ")}], start: "${start}", end: "${end}" }`);
  }
  return lines;
}

function limitLines(conns: readonly ObservedConns[], margin: number): string[] {
  const n = sum(conns.map((c) => c.n));
  const over = `over ${count(n)} connections`;
  const maxIn = Math.max(...conns.map((c) => c.in[2]));
  const maxOut = Math.max(...conns.map((c) => c.out[2]));
  const maxDurMs = Math.max(...conns.map((c) => c.dur[1]));
  return [
    "      limits:",
    `        maxBytesIn: ${quantity(maxIn * margin)}    # max seen ${bytesText(maxIn)} ${over}`,
    `        maxBytesOut: ${quantity(maxOut * margin)}    # max seen ${bytesText(maxOut)} ${over}`,
    ...messageLines(conns, margin),
    `        maxDurationSeconds: ${Math.max(1, Math.ceil((maxDurMs / 1000) * margin))}    # longest seen ${(maxDurMs / 1000).toFixed(1)} s`,
  ];
}

/**
 * maxMessageBytes under the framing the filter measured messages under (the one most of the
 * rule's connections were measured under, when a change of policy split them): a size measured
 * under one framing says nothing of messages under another.
 */
function messageLines(conns: readonly ObservedConns[], margin: number): string[] {
  const byFraming = new Map<string, ObservedConns[]>();
  for (const c of conns) {
    const list = byFraming.get(c.framing);
    if (list) list.push(c);
    else byFraming.set(c.framing, [c]);
  }
  const connections = (cs: readonly ObservedConns[]): number => sum(cs.map((c) => c.n));
  const ranked = [...byFraming.entries()].sort(([a, x], [b, y]) => connections(y) - connections(x) || (a < b ? -1 : a > b ? 1 : 0));
  const [text, measured] = ranked[0]!;
  const framing = parseFramingText(text);
  if (!framing) throw new Error(`observed framing "${text}" is not one picoseg knows`);
  const n = connections(measured);
  const maxMsg = Math.max(...measured.map((c) => c.msg[1]));
  const lines = framing.type === "chunk"
    ? [
      `        maxMessageBytes: ${quantity(maxMsg * margin)}    # largest read seen ${bytesText(maxMsg)} over ${count(n)} connections`,
      "        framing: { type: chunk }       # each read is a message: what the filter measured",
    ]
    : [
      `        maxMessageBytes: ${quantity(maxMsg * margin)}    # largest ${framing.type} message ${bytesText(maxMsg)} over ${count(n)} connections`,
      `        framing: ${framingYaml(framing)}    # the framing the filter measured messages under`,
    ];
  const others = ranked.slice(1).map(([t, cs]) => `${count(connections(cs))} under ${t}`);
  if (others.length > 0) lines.push(`        # not counted in maxMessageBytes: connections measured under another framing (${others.join("; ")})`);
  return lines;
}

function perSourceLines(conns: readonly ObservedConns[], margin: number): string[] {
  // Connections and bytes of each source in each hour it was seen: the busiest one sets the limit.
  const perHour = sourceHours(conns);
  const busiest = Math.max(...[...perHour.values()].map((v) => v.conns));
  const heaviest = Math.max(...[...perHour.values()].map((v) => v.bytes));
  return [
    "      perSource:",
    "        window: 1h",
    `        maxConnections: ${Math.max(1, Math.ceil(busiest * margin))}    # busiest source-hour: ${count(busiest)} connections`,
    `        maxBytes: ${quantity(heaviest * margin)}    # heaviest source-hour: ${bytesText(heaviest)} both ways`,
  ];
}

function selectorLines(labels: Record<string, string>): string[] {
  const app = labels["app"];
  const chosen = app !== undefined ? { app } : labels;
  const entries = Object.entries(chosen).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return ["  # selector: the workload announced no labels — this segment selects every workload of the namespace"];
  return ["  selector:", `    matchLabels: { ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")} }`];
}

/** Bytes rounded up to a readable quantity (integers of Ki, Mi or Gi), at least 1Ki (a limit of 0 would forbid any byte). */
export function quantity(bytes: number): string {
  const b = Math.max(KI, Math.ceil(bytes));
  if (b >= GI) return `${Math.ceil(b / GI)}Gi`;
  if (b >= MI) return `${Math.ceil(b / MI)}Mi`;
  return `${Math.ceil(b / KI)}Ki`;
}

function bytesText(b: number): string {
  if (b >= MI) return `${(b / MI).toFixed(1)} MiB`;
  if (b >= KI) return `${(b / KI).toFixed(1)} KiB`;
  return `${b} B`;
}

function clock(hour: number): string {
  return `${String(hour).padStart(2, "0")}:00`;
}

function period(t: Traffic): string {
  if (t.from === undefined || t.to === undefined) return "";
  return `from ${new Date(t.from).toISOString()} to ${new Date(t.to).toISOString()}`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function connsOf(conns: readonly ObservedConns[], pick: (c: ObservedConns) => boolean): number {
  return sum(conns.filter(pick).map((c) => c.n));
}

function uniqueSorted<T extends string>(xs: readonly T[]): T[] {
  return [...new Set(xs)].sort();
}

/** A DNS-1123 label from a workload name (lowercase, digits, dashes, at most 63). */
function dnsName(s: string): string {
  const cleaned = s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return cleaned.slice(0, 63).replace(/-+$/, "") || "learned";
}
