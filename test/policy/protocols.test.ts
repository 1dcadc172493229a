// Issue 13's policy fields: the messaging protocols, the wire framings (postgres, mqtt, kafka),
// MQTT client ids and PUBLISH sizes, and the warning for the old lengthPrefixed Postgres form.
import { describe, expect, it } from "vitest";
import { compileForWorkload } from "../../xds-server/src/policy/compile.js";
import { validatePolicyText } from "../../xds-server/src/policy/load.js";
import { formatPolicyError } from "../../api/status.js";
import { dedent, errorsOf, loadOne, ruleDoc, segmentDoc } from "./helpers.js";

function warningsOf(text: string): string[] {
  return validatePolicyText(text, "t.yaml").warnings.map(formatPolicyError);
}

/** The compiled lines of a one-rule segment, after `rule r`. */
function compileRule(rule: string): string[] {
  const seg = loadOne(segmentDoc(`rules:\n  - name: r\n${dedent(rule).replace(/^/gm, "    ")}`));
  const lines = compileForWorkload([seg], { namespace: "team-a", labels: {}, annotations: {} }).config.split("\n");
  return lines.slice(lines.indexOf("rule r") + 1, lines.indexOf("end"));
}

describe("protocols", () => {
  it("accepts mqtt, amqp, kafka and nats like the other sniffed protocols", () => {
    expect(errorsOf(ruleDoc("protocols: [mqtt, amqp, kafka, nats, postgres]"))).toEqual([]);
    expect(compileRule("protocols: [mqtt, nats]")).toEqual(["protocol mqtt", "protocol nats"]);
  });
});

describe("wire framings", () => {
  it.each(["postgres", "mqtt", "kafka"])("framing %s takes no parameters and compiles to its name", (type) => {
    expect(errorsOf(ruleDoc(`limits: { maxMessageBytes: 1Mi, framing: { type: ${type} } }`))).toEqual([]);
    expect(compileRule(`limits: { maxMessageBytes: 1Mi, framing: { type: ${type} } }`)).toEqual(["maxMessageBytes 1048576", `framing ${type}`]);
    expect(errorsOf(ruleDoc(`limits: { framing: { type: ${type}, width: 4 } }`))).toEqual([
      `t.yaml:9: spec.rules[0].limits.framing.width: does not apply to framing type ${type}`,
    ]);
  });
});

describe("MQTT client ids and PUBLISH sizes", () => {
  const mqttRule = `
    from: { mqttClientIds: ["sensor-*", "gateway-7"] }
    protocols: [mqtt]
    limits: { maxPublishBytes: 256, framing: { type: mqtt } }`;

  it("compile to one line per pattern, the payload limit, and the framing even without maxMessageBytes", () => {
    expect(errorsOf(ruleDoc(mqttRule))).toEqual([]);
    expect(compileRule(mqttRule)).toEqual(["mqttClientId sensor-*", "mqttClientId gateway-7", "protocol mqtt", "framing mqtt", "maxPublishBytes 256"]);
  });

  it("need mqtt framing: without it nothing could read them", () => {
    expect(errorsOf(ruleDoc('from: { mqttClientIds: ["sensor-*"] }\nlimits: { maxPublishBytes: 1Ki, maxMessageBytes: 2Ki }'))).toEqual([
      "t.yaml:9: spec.rules[0].from.mqttClientIds: needs limits.framing { type: mqtt } (client ids are read from the MQTT CONNECT)",
      "t.yaml:10: spec.rules[0].limits.maxPublishBytes: needs limits.framing { type: mqtt } (payload sizes are read from MQTT PUBLISH packets)",
    ]);
  });

  it("refuses empty patterns, whitespace, a '*' that is not last, and a malformed quantity", () => {
    expect(errorsOf(ruleDoc('from: { mqttClientIds: ["", "a b", "*-7", "sensor-*"] }\nlimits: { maxPublishBytes: 1Kb, framing: { type: mqtt } }'))).toEqual([
      "t.yaml:9: spec.rules[0].from.mqttClientIds[0]: must not be empty",
      't.yaml:9: spec.rules[0].from.mqttClientIds[1]: "a b" must not contain whitespace',
      `t.yaml:9: spec.rules[0].from.mqttClientIds[2]: "*-7": '*' may only be the last character (a prefix) or the whole pattern`,
      expect.stringMatching(/^t\.yaml:10: spec\.rules\[0\]\.limits\.maxPublishBytes: /),
    ]);
  });
});

describe("the old lengthPrefixed Postgres form", () => {
  it("is valid but warned about, pointing to framing postgres", () => {
    const doc = ruleDoc("protocols: [postgres]\nlimits: { maxMessageBytes: 1Mi, framing: { type: lengthPrefixed, offset: 1, width: 4, endian: big, adjustment: -4 } }");
    expect(errorsOf(doc)).toEqual([]);
    expect(warningsOf(doc)).toEqual([
      "t.yaml:10: spec.rules[0].limits.framing: lengthPrefixed misframes Postgres: the StartupMessage and SSLRequest have no type byte, so every later boundary drifts; write framing: { type: postgres }",
    ]);
  });

  it("is recognised by its parameters alone, or by any lengthPrefixed under protocols [postgres]", () => {
    expect(warningsOf(ruleDoc("limits: { framing: { type: lengthPrefixed, offset: 1, width: 4, adjustment: -4 } }"))).toHaveLength(1);
    expect(warningsOf(ruleDoc("protocols: [postgres]\nlimits: { framing: { type: lengthPrefixed, width: 4 } }"))).toHaveLength(1);
  });

  it("framing postgres, and lengthPrefixed for other protocols, are not warned about", () => {
    expect(warningsOf(ruleDoc("protocols: [postgres]\nlimits: { maxMessageBytes: 1Mi, framing: { type: postgres } }"))).toEqual([]);
    expect(warningsOf(ruleDoc("protocols: [unknown]\nlimits: { framing: { type: lengthPrefixed, width: 4 } }"))).toEqual([]);
  });
});

describe("TLS server names (from.serverNames)", () => {
  it("exact names and *.suffix compile to serverName lines", () => {
    const rule = 'from: { serverNames: ["api.plant1.example", "*.devices.example"] }';
    expect(errorsOf(ruleDoc(rule))).toEqual([]);
    expect(compileRule(rule)).toEqual(["serverName api.plant1.example", "serverName *.devices.example"]);
  });

  it("refuses what is no DNS name: a wildcard elsewhere than the first label, spaces, empty labels", () => {
    expect(errorsOf(ruleDoc('from: { serverNames: ["api.*.example", "a b.example", "a..example", "*"] }'))).toEqual([
      't.yaml:9: spec.rules[0].from.serverNames[0]: "api.*.example" is not a server name (a DNS name, or "*." followed by one)',
      't.yaml:9: spec.rules[0].from.serverNames[1]: "a b.example" is not a server name (a DNS name, or "*." followed by one)',
      't.yaml:9: spec.rules[0].from.serverNames[2]: "a..example" is not a server name (a DNS name, or "*." followed by one)',
      't.yaml:9: spec.rules[0].from.serverNames[3]: "*" is not a server name (a DNS name, or "*." followed by one)',
    ]);
  });
});

describe("perSource.maxSources", () => {
  it("compiles to perSource's fifth number; absent, the line keeps its four", () => {
    expect(compileRule("perSource: { window: 1h, maxConnections: 60, maxSources: 100000 }")).toEqual(["perSource 3600 - 60 - 100000"]);
    expect(compileRule("perSource: { window: 1h, maxConnections: 60 }")).toEqual(["perSource 3600 - 60 -"]);
  });

  it("is a positive integer of at most 4,194,304 (a table of 2^24 slots)", () => {
    expect(errorsOf(ruleDoc("perSource: { window: 1h, maxConnections: 1, maxSources: 0 }"))).toEqual([
      "t.yaml:9: spec.rules[0].perSource.maxSources: must be at least 1 (got 0)",
    ]);
    expect(errorsOf(ruleDoc("perSource: { window: 1h, maxConnections: 1, maxSources: 5000000 }"))).toEqual([
      "t.yaml:9: spec.rules[0].perSource.maxSources: must be at most 4194304 (got 5000000)",
    ]);
  });
});
