// dashboards/picoseg.json queries only metrics the code really exports: the xDS server's /metrics
// (names and labels) and a real Envoy's /stats/prometheus with the picoseg filter loaded (the
// filter's counters, one per reason of the contract).
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { defaultWasmPath } from "../../xds-server/src/server/server.js";
import { segment, startFixture } from "../../testkit/xds/server-fixture.js";
import { roundTrip } from "../../testkit/envoy/round-trip.js";
import { Stops, XdsSidecar, freePorts, stopAllEnvoys, waitFor } from "../../testkit/envoy/harness.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const REASONS = ["no-config", "no-rule", "source", "port", "protocol", "schedule", "bytes-in", "bytes-out", "message-size", "duration",
  "source-bytes", "source-connections", "source-ports", "quarantined", "revoked"];

interface Dashboard { panels: Array<{ title: string; targets: Array<{ expr: string }> }> }

/** Metric families in Prometheus text: name → label names seen on its samples. */
function families(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const t = /^# TYPE (\S+) /.exec(line);
    if (t) out.set(t[1]!, out.get(t[1]!) ?? new Set());
    const s = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? /.exec(line);
    if (s) {
      const labels = out.get(s[1]!) ?? new Set<string>();
      for (const m of (s[2] ?? "").matchAll(/(\w+)="/g)) labels.add(m[1]!);
      out.set(s[1]!, labels);
    }
  }
  return out;
}

const stops = new Stops();
afterEach(() => stops.run());
afterAll(stopAllEnvoys);

describe("the Grafana dashboard", () => {
  it("names only metrics the server and a real Envoy export, and labels the server's metrics carry", async () => {
    const [listenPort, adminPort] = (await freePorts(2)) as [number, number];
    const fx = stops.add(await startFixture({ "db.yaml": segment("db", "db", listenPort) }, { wasmPath: defaultWasmPath(), decisionIntervalMs: 200 }));
    const sidecar = stops.add(await XdsSidecar.start({ xdsPort: fx.server.xdsPort, listenPort, adminPort, node: { id: "db-1", cluster: "db.shop", namespace: "shop", labels: { app: "db" } } }));
    // One real allowed connection, read by the server: picoseg_proxy_decisions_total gets a sample.
    expect(await roundTrip(listenPort)).toBe("allowed");
    await waitFor("the server to read the decision", () => (fx.server.decisions.proxies()[0]?.counts["allow"] === 1 ? true : undefined), 3000, 50);
    const server = families(await (await fetch(`${fx.server.httpUrl}/metrics`)).text());
    const envoy = families(await sidecar.envoy.adminText("/stats/prometheus"));
    for (const r of REASONS) {
      expect(envoy.has(`picoseg_denied_${r.replace(/-/g, "_")}`) || envoy.has(`picoseg_denied_${r}`), `Envoy exports picoseg_denied_${r}`).toBe(true);
    }
    expect(envoy.has("picoseg_allowed")).toBe(true);

    const dash = JSON.parse(readFileSync(path.join(ROOT, "dashboards", "picoseg.json"), "utf8")) as Dashboard;
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    const names = new Set([...server.keys(), ...envoy.keys()]);
    for (const { panel, expr } of exprs) {
      // Plain metric names (functions and label names are followed by "(" or "=", or sit in by (...)).
      const bare = expr.replace(/"[^"]*"/g, '""').replace(/\b(by|without)\s*\([^)]*\)/g, "");
      const used = [...bare.matchAll(/\b(picoseg_\w+)\b(?!\s*\()/g)].map((m) => m[1]!);
      for (const n of used) expect(names.has(n), `${panel}: ${n} is exported`).toBe(true);
      // Name regexes ({__name__=~"…"}) must match some exported metric.
      for (const m of expr.matchAll(/__name__=~"([^"]+)"/g)) {
        const re = new RegExp(`^(?:${m[1]!})$`);
        expect([...names].some((n) => re.test(n)), `${panel}: ${m[1]} matches an exported metric`).toBe(true);
      }
      // Labels grouped by on a server metric must be labels it carries.
      const serverUsed = used.filter((n) => server.has(n.replace(/_bucket$/, "")) || server.has(n));
      for (const by of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        for (const label of by[1]!.split(",").map((x) => x.trim()).filter((x) => x !== "le")) {
          if (serverUsed.length === 0 || used.length !== serverUsed.length) continue; // Envoy labels come from the scrape
          // The labels each metric is declared with (a counter never incremented has no sample to show them).
          const has = serverUsed.some((n) => {
            const m = fx.server.metrics.registry.getSingleMetric(n.replace(/_bucket$/, ""));
            return ((m as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? []).includes(label);
          });
          expect(has, `${panel}: label ${label} on ${serverUsed.join(", ")}`).toBe(true);
        }
      }
    }
  });
});
