// The cases of twins.json, typed, and the test names both sides give them: the same name for the
// same case in filter-twins.test.ts (the filter) and server-twins.test.ts (the server).
import { readFileSync } from "node:fs";

export interface CidrCase {
  block: string;
  /** The block as the server compiles it (an `ip`/`notip` line), when it differs from `block`. */
  compiled?: string;
  address: string;
  inside: boolean;
  /** The address does not parse: inside no block, and no ipBlocks or notIpBlocks rule matches it. */
  malformed?: boolean;
}

export interface InvalidBlock {
  block: string;
  why: string;
}

export interface PolicyWindow {
  days: string[];
  start: string;
  end: string;
}

export interface Instant {
  at: string;
  local: string;
  inside: boolean;
  why?: string;
}

export interface ScheduleCase {
  zone: string;
  windows: PolicyWindow[];
  compiled: Array<[number, number]>;
  instants: Instant[];
}

export interface PolicyRule {
  name: string;
  from?: { principals?: string[]; ipBlocks?: string[]; notIpBlocks?: string[] };
  ports?: Array<number | string>;
}

export interface Connection {
  principal: string;
  source: string;
  port: number;
  rule?: string;
  reason?: string;
  why?: string;
}

export interface SelectionCase {
  segments: Array<{ name: string; rules: PolicyRule[] }>;
  compiled: string[];
  connections: Connection[];
}

export interface Twins {
  reasons: { list: string[] };
  cidr: { matches: CidrCase[]; invalidBlocks: InvalidBlock[] };
  zones: Record<string, string>;
  schedules: { cases: ScheduleCase[] };
  selection: { cases: SelectionCase[] };
}

export const twins = JSON.parse(readFileSync(new URL("./twins.json", import.meta.url), "utf8")) as Twins;

/** The namespace and labels of the workload every selection case is about. */
export const WORKLOAD = { namespace: "payments", name: "db", labels: { app: "db" } };

/** The text of a block that the filter reads. */
export function compiledBlock(c: CidrCase): string {
  return c.compiled ?? c.block;
}

const why = (text: string | undefined): string => (text === undefined ? "" : ` — ${text}`);

export function cidrName(c: CidrCase): string {
  if (c.malformed) return `${JSON.stringify(c.address)} does not parse: it is inside no block, not even ${c.block}`;
  return `${c.address} is ${c.inside ? "inside" : "outside"} ${c.block}`;
}

export function invalidBlockName(b: InvalidBlock): string {
  return `${JSON.stringify(b.block)} is not a block: ${b.why}`;
}

export function windowsText(ws: PolicyWindow[]): string {
  return ws.map((w) => `${w.days.join(",")} ${w.start}-${w.end}`).join("; ");
}

export function instantName(s: ScheduleCase, i: Instant): string {
  return `${i.at} (${i.local} in ${s.zone}) is ${i.inside ? "inside" : "outside"} ${windowsText(s.windows)}${why(i.why)}`;
}

export function connectionName(c: Connection): string {
  const peer = c.principal === "" ? "no principal" : c.principal;
  const source = c.source === "" ? "unknown source" : c.source;
  const outcome = c.rule !== undefined ? `${c.rule} governs` : `denied with ${c.reason}`;
  return `${peer}, ${source}, port ${c.port}: ${outcome}${why(c.why)}`;
}
