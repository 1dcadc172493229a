// The filter's decision line as Envoy logs it, read back by the one parser the demo and the
// integration tests share.
import { describe, expect, it } from "vitest";
import { parseDecisionLine } from "../../api/decision.js";

const LINE =
  '[2026-11-27 20:00:00.000][12][warning][wasm] [source/extensions/common/wasm/context.cc:1192] wasm log picoseg: ' +
  '{"picoseg":"deny","reason":"source","segment":"shop/db","rule":"","source":"127.0.0.2:40000","principal":"",' +
  '"port":null,"protocol":"redis","bytesIn":12,"bytesOut":0,"mode":"enforce","connection":7}';

// The same line in the log format Istio's pilot-agent gives Envoy: tab-separated, thread last.
const ISTIO_LINE =
  '2026-12-03T05:48:08.033611Z\twarning\tenvoy wasm source/extensions/common/wasm/context.cc:1154\twasm log picoseg picoseg picoseg: ' +
  '{"picoseg":"deny","reason":"source","segment":"shop/db","rule":"","source":"127.0.0.2:40000","principal":"",' +
  '"port":null,"protocol":"redis","bytesIn":12,"bytesOut":0,"mode":"enforce","connection":7}\tthread=891';

describe("parseDecisionLine", () => {
  it("reads a decision line in Istio's log format, where the thread follows the message", () => {
    expect(parseDecisionLine(ISTIO_LINE)).toEqual(parseDecisionLine(LINE));
    expect(parseDecisionLine(ISTIO_LINE)?.connection).toBe(7);
  });

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
    expect(parseDecisionLine('wasm log: {"picoseg":"deny"\tthread=12')).toBeUndefined();
    expect(parseDecisionLine('wasm log: {"picoseg":"deny",')).toBeUndefined();
    expect(parseDecisionLine('wasm log: {"picoseg":"maybe"}')).toBeUndefined();
  });
});
