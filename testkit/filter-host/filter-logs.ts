import type { DecisionLine, LogEntry } from "./types.js";

/** What the filter logged through proxy_log, whatever the level, and its decision lines parsed. */
export class FilterLogs {
  private readonly entries: LogEntry[] = [];
  private readonly decisionLines: DecisionLine[] = [];
  private readonly decisionsByConn = new Map<number, DecisionLine[]>();
  /** Every proxy_log call and the bytes it carried (never cleared: the setup-cost tests diff them). */
  calls = 0;
  bytes = 0;

  record(level: number, message: string, context: number, size: number): void {
    this.calls++;
    this.bytes += size;
    this.entries.push({ level, message, context });
    if (message.startsWith('{"picoseg"')) {
      // A decision line must be valid JSON: a parse error here fails the test.
      const d = JSON.parse(message) as DecisionLine;
      this.decisionLines.push(d);
      const list = this.decisionsByConn.get(d.connection);
      if (list) list.push(d);
      else this.decisionsByConn.set(d.connection, [d]);
    }
  }

  /** Messages logged at exactly `level` (all levels when negative). */
  messages(level: number): string[] {
    return this.entries.filter((l) => level < 0 || l.level === level).map((l) => l.message);
  }

  /** The last `n` messages at `level` or above. */
  lastAtLeast(level: number, n: number): string[] {
    return this.entries.filter((l) => l.level >= level).map((l) => l.message).slice(-n);
  }

  since(index: number): LogEntry[] {
    return this.entries.slice(index);
  }

  get count(): number {
    return this.entries.length;
  }

  /** Forgets entries and decision lines (long fuzz runs). */
  clear(): void {
    this.entries.length = 0;
    this.decisionLines.length = 0;
    this.decisionsByConn.clear();
  }

  decisions(): DecisionLine[] {
    return [...this.decisionLines];
  }

  decisionsFor(id: number): DecisionLine[] {
    return [...(this.decisionsByConn.get(id) ?? [])];
  }
}
