// The filter's decision line as Envoy logs it, read back by the one parser the demo and the
// integration tests share.
import { describe, expect, it } from "vitest";
import { parseDecisionLine } from "../../xds-server/src/envoy/index.js";

const LINE =
  '[2026-11-27 20:00:00.000][12][warning][wasm] [source/extensions/common/wasm/context.cc:1192] wasm log picoseg: ' +
  '{"picoseg":"deny","reason":"source","segment":"shop/db","rule":"","source":"127.0.0.2:40000","principal":"",' +
  '"port":null,"protocol":"redis","bytesIn":12,"bytesOut":0,"mode":"enforce","connection":7}';

describe("parseDecisionLine", () => {
  it("reads every field of a decision line in Envoy's log, a null port as null", () => {
    expect(parseDecisionLine(LINE)).toEqual({
      picoseg: "deny",
      reason: "source",
      segment: "shop/db",
      rule: "",
      source: "127.0.0.2:40000",
      principal: "",
      port: null,
      protocol: "redis",
      bytesIn: 12,
      bytesOut: 0,
      mode: "enforce",
      connection: 7,
    });
  });

  it("finds no decision in other lines, broken JSON, or an unknown verdict", () => {
    expect(parseDecisionLine("[info][main] starting")).toBeUndefined();
    expect(parseDecisionLine('wasm log: {"picoseg":"deny",')).toBeUndefined();
    expect(parseDecisionLine('wasm log: {"picoseg":"maybe"}')).toBeUndefined();
  });
});
