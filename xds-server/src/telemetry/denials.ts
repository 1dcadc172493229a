// Denied attempts by reason and source, summed over stored reports: what `picoseg report` and the
// console show as "who was denied" (the Envoy counters carry counts only, no source).
import { type DeniedAttempt, identityOf } from "../../../api/report.js";
import type { StoredReport } from "./store.js";

export function deniedAttempts(reports: readonly StoredReport[]): DeniedAttempt[] {
  const byKey = new Map<string, DeniedAttempt>();
  for (const r of reports) {
    for (const d of r.report.denials) {
      const source = identityOf(d);
      const key = `${d.reason}\0${source}\0${d.mode}`;
      const seen = byKey.get(key);
      if (seen) {
        seen.count += d.n;
        seen.from = Math.min(seen.from, r.report.from);
        seen.to = Math.max(seen.to, r.report.to);
      } else {
        byKey.set(key, { reason: d.reason, source, mode: d.mode, count: d.n, from: r.report.from, to: r.report.to });
      }
    }
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : a.source < b.source ? -1 : 1));
}
