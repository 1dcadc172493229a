// The example policies shipped in policies/ are valid, and compile for the workloads their
// comments name.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileForWorkload } from "../../xds-server/src/policy/compile.js";
import { loadPolicyDir, validatePolicyText } from "../../xds-server/src/policy/load.js";
import { formatPolicyError } from "../../api/status.js";
import { readConfig } from "./config-reader.js";

const NOW = new Date("2026-06-15T12:00:00Z");

describe("policies/", () => {
  const files = readdirSync("policies").filter((f) => /\.ya?ml$/.test(f));

  it("holds the database, cache and audit-mode examples", () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)("%s validates", (file) => {
    const result = validatePolicyText(readFileSync(`policies/${file}`, "utf8"), `policies/${file}`);
    expect(result.errors.map(formatPolicyError)).toEqual([]);
    expect(result.segments.length).toBeGreaterThan(0);
  });

  it("the payments database admits only its API's principal and the ops subnet, on 5432, postgres, Berlin office hours, Postgres framing", async () => {
    const { segments, errors } = await loadPolicyDir("policies");
    expect(errors).toEqual([]);
    const { config } = compileForWorkload(segments, { namespace: "payments", labels: { app: "payments-db" }, annotations: {} }, { now: NOW });
    const read = readConfig(config);
    expect(read.rules.map((r) => r.name)).toEqual(["api-to-db", "ops-psql"]);
    const api = read.rules[0]?.lines ?? [];
    expect(api).toContain("principal spiffe://cluster.local/ns/payments/sa/payments-api");
    expect(api).toContain("port 5432 5432");
    expect(api).toContain("protocol postgres");
    expect(api).toContain("framing postgres");
    expect(api.some((l) => l.startsWith("maxBytesIn "))).toBe(true);
    expect(read.rules[1]?.lines).toContain("notip 10.20.99.0/24");
  });

  it("the sensor fleet admits devices as sensor-* over MQTT, small publishes, and dashboards by server name", async () => {
    const { segments } = await loadPolicyDir("policies");
    const { config } = compileForWorkload(segments, { namespace: "plant", labels: { app: "mqtt-broker" }, annotations: {} }, { now: NOW });
    const [sensors, dashboards] = readConfig(config).rules;
    expect(sensors?.lines).toEqual(expect.arrayContaining(["mqttClientId sensor-*", "protocol mqtt", "framing mqtt", "maxPublishBytes 256"]));
    expect(dashboards?.lines).toEqual(expect.arrayContaining(["serverName broker.plant1.example", "serverName *.dashboards.plant1.example"]));
  });

  it("the cache admits two principals over redis only", async () => {
    const { segments } = await loadPolicyDir("policies");
    const { config } = compileForWorkload(segments, { namespace: "shop", labels: { app: "cart-cache" }, annotations: {} }, { now: NOW });
    const lines = readConfig(config).rules.flatMap((r) => r.lines);
    expect(lines.filter((l) => l.startsWith("principal "))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith("protocol "))).toEqual(["protocol redis"]);
  });

  it("the reporting API is in audit mode unless its pods ask for enforce", async () => {
    const { segments } = await loadPolicyDir("policies");
    const w = { namespace: "analytics", labels: { app: "reporting-api" }, annotations: {} };
    expect(compileForWorkload(segments, w, { now: NOW }).config).toContain("segment analytics/reporting-api audit\n");
    const enforced = compileForWorkload(segments, { ...w, annotations: { "picoseg.io/mode": "enforce" } }, { now: NOW });
    expect(enforced.config).toContain("segment analytics/reporting-api enforce\n");
  });
});
