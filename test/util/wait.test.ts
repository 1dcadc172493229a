// Bounded waiting (xds-server/src/util/wait.ts), shared by the demo and the integration harness.
import { describe, expect, it } from "vitest";
import { StopWaiting, waitFor } from "../../xds-server/src/util/wait.js";

describe("waitFor", () => {
  it("returns the first value other than undefined", async () => {
    let n = 0;
    expect(await waitFor("three polls", () => (++n >= 3 ? n : undefined), 1000, 1)).toBe(3);
  });

  it("keeps polling through errors and names the last one when time runs out", async () => {
    await expect(waitFor("an answer", () => { throw new Error("refused"); }, 50, 5))
      .rejects.toThrow("timed out after 50 ms waiting for an answer (last error: refused)");
  });

  it("stops at once on StopWaiting (an Envoy that exited will not come back)", async () => {
    const t0 = Date.now();
    await expect(waitFor("Envoy's admin address", () => { throw new StopWaiting("Envoy exited (code 1, signal null)"); }, 5000))
      .rejects.toThrow("Envoy exited (code 1, signal null)");
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
