// Valid but suspicious: a new state in which a segment that is still there lost a rule, a
// schedule, a limit or a restriction it had. A file cut at a line boundary (an interrupted copy,
// `head -n`) still parses and would be served silently; it is accepted (the operator may mean it)
// and reported, so nobody learns of it from an incident.
import type { LoadedSegment } from "../policy/index.js";
import type { Rule } from "../../../api/picosegment.js";

const RULE_FIELDS: ReadonlyArray<[string, (r: Rule) => unknown]> = [
  ["from.principals", (r) => r.from?.principals],
  ["from.ipBlocks", (r) => r.from?.ipBlocks],
  ["from.notIpBlocks", (r) => r.from?.notIpBlocks],
  ["ports", (r) => r.ports],
  ["protocols", (r) => r.protocols],
  ["its schedule", (r) => r.schedule],
  ["limits.maxBytesIn", (r) => r.limits?.maxBytesIn],
  ["limits.maxBytesOut", (r) => r.limits?.maxBytesOut],
  ["limits.maxMessageBytes", (r) => r.limits?.maxMessageBytes],
  ["limits.maxDurationSeconds", (r) => r.limits?.maxDurationSeconds],
  ["perSource.maxBytes", (r) => r.perSource?.maxBytes],
  ["perSource.maxConnections", (r) => r.perSource?.maxConnections],
  ["perSource.maxDistinctPorts", (r) => r.perSource?.maxDistinctPorts],
];

/** One line per loosened rule or segment, e.g. `segment shop/db loosened: rule ops removed (policies/db.yaml)`. */
export function loosenings(before: readonly LoadedSegment[], after: readonly LoadedSegment[]): string[] {
  const out: string[] = [];
  const old = new Map(before.map((s) => [key(s), s]));
  for (const now of after) {
    const was = old.get(key(now));
    if (!was) continue;
    const say = (what: string): void => {
      out.push(`segment ${key(now)} loosened: ${what} (${now.source.file})`);
    };
    if (was.segment.spec.quarantine && !now.segment.spec.quarantine) say("quarantine removed");
    if ((was.segment.spec.mode ?? "enforce") === "enforce" && now.segment.spec.mode === "audit") say("mode enforce became audit");
    const rules = new Map((now.segment.spec.rules ?? []).map((r) => [r.name, r]));
    for (const r of was.segment.spec.rules ?? []) {
      const n = rules.get(r.name);
      if (!n) {
        say(`rule ${r.name} removed`);
        continue;
      }
      const lost = RULE_FIELDS.filter(([, get]) => get(r) !== undefined && get(n) === undefined).map(([name]) => name);
      if (lost.length > 0) say(`rule ${r.name} lost ${lost.join(", ")}`);
    }
  }
  return out;
}

function key(s: LoadedSegment): string {
  return `${s.segment.metadata.namespace}/${s.segment.metadata.name}`;
}
