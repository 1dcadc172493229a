// A reader of the compiled configuration for tests: it evaluates schedules exactly as
// filter/CONFIG.md describes (offset table → local minute of the week → windows), so tests can
// state rules about instants ("08:30 in Berlin on the Monday after the DST change is inside")
// instead of restating the compiler's arithmetic.

export interface ReadRule {
  name: string;
  segment: string;
  lines: string[]; // the rule's attribute lines, as written
  schedule?: number;
  windows: Array<[number, number]>;
}

export interface ReadConfig {
  zones: Map<number, { initial: number; transitions: Array<[number, number]> }>;
  rules: ReadRule[];
}

export function readConfig(config: string): ReadConfig {
  const zones: ReadConfig["zones"] = new Map();
  const rules: ReadRule[] = [];
  let segment = "";
  for (const line of config.split("\n")) {
    const tokens = line.split(" ");
    const [keyword] = tokens;
    if (keyword === "tz") {
      const numbers = tokens.slice(1).map(Number);
      const transitions: Array<[number, number]> = [];
      for (let i = 2; i + 1 < numbers.length; i += 2) transitions.push([numbers[i] as number, numbers[i + 1] as number]);
      zones.set(numbers[0] as number, { initial: numbers[1] as number, transitions });
    } else if (keyword === "segment") {
      segment = tokens[1] ?? "";
    } else if (keyword === "rule") {
      rules.push({ name: tokens[1] ?? "", segment, lines: [], windows: [] });
    } else if (rules.length > 0 && keyword !== "end" && keyword !== "") {
      const rule = rules[rules.length - 1] as ReadRule;
      rule.lines.push(line);
      if (keyword === "schedule") rule.schedule = Number(tokens[1]);
      if (keyword === "window") rule.windows.push([Number(tokens[1]), Number(tokens[2])]);
    }
  }
  return { zones, rules };
}

/** UTC offset in minutes of table `id` at a Unix second. */
export function offsetAt(config: ReadConfig, id: number, unixSeconds: number): number {
  const zone = config.zones.get(id);
  if (!zone) throw new Error(`no tz ${id}`);
  let offset = zone.initial;
  for (const [at, next] of zone.transitions) if (at <= unixSeconds) offset = next;
  return offset;
}

/** Whether the rule's schedule admits a connection at this instant (no schedule: always). */
export function scheduleAdmits(config: ReadConfig, rule: ReadRule, instant: Date): boolean {
  if (rule.schedule === undefined) return true;
  const t = Math.floor(instant.getTime() / 1000);
  const local = t + offsetAt(config, rule.schedule, t) * 60;
  const day = Math.floor(local / 86400);
  const weekday = (((day + 3) % 7) + 7) % 7; // 1970-01-01 was a Thursday; Monday = 0
  const minute = weekday * 1440 + Math.floor((((local % 86400) + 86400) % 86400) / 60);
  return rule.windows.some(([start, end]) => (start <= minute && minute < end) || (start <= minute + 10080 && minute + 10080 < end));
}

export function ruleNamed(config: ReadConfig, name: string): ReadRule {
  const rule = config.rules.find((r) => r.name === name);
  if (!rule) throw new Error(`no rule ${name}`);
  return rule;
}
