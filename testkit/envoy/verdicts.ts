// The three places a test looks at for every decision: the client (closed or not, what came back),
// the upstream (which bytes arrived) and Envoy (the picoseg counter for the reason, the JSON line).
import { expect } from "vitest";
import { TcpClient, type ClientTls } from "./client.js";
import type { Decision, Reason } from "../../api/decision.js";
import type { FilterEnv, Snapshot } from "./filter-env.js";
import type { UpstreamConnection } from "./upstream.js";
import { sleep } from "../../xds-server/src/util/wait.js";

/** How long an allowed connection must stay open after its traffic to count as "not closed". */
export const STAYS_OPEN_MS = 400;

/**
 * An allowed client-first exchange on an echo upstream: connects (from `from`, default 127.0.0.1),
 * `payload` reaches the upstream exactly, comes back exactly, the connection stays open, and
 * picoseg.allowed grows by one. Returns the open client and its upstream connection.
 */
export async function expectAllowedEcho(
  env: FilterEnv,
  listener: string,
  payload: Buffer | string,
  before: Snapshot,
  connect: { from?: string; tls?: ClientTls } = {},
): Promise<{ client: TcpClient; upstream: UpstreamConnection }> {
  const bytes = Buffer.from(payload);
  const index = env.upstream(listener).connections.length;
  const client = await TcpClient.connect(env.port(listener), connect);
  await client.write(bytes);
  expect((await client.waitForBytes(bytes.length, 3000)).equals(bytes)).toBe(true);
  const up = await env.upstream(listener).waitForConnection(index + 1);
  expect(up.received().equals(bytes)).toBe(true);
  await sleep(STAYS_OPEN_MS);
  expect(client.isOpen()).toBe(true);
  expect(client.received().equals(bytes)).toBe(true);
  await env.expectCounterDelta(before, "picoseg.allowed", 1);
  return { client, upstream: up };
}

/**
 * A denied connection: closed at the client within 3 s, the counter picoseg.denied.<reason> grown by
 * one, and a JSON decision line with that reason logged since `before`. Returns the decision line.
 */
export async function expectDenied(
  env: FilterEnv,
  client: TcpClient,
  reason: Reason,
  before: Snapshot,
  match: (d: Decision) => boolean = () => true,
): Promise<Decision> {
  await client.waitForClose(3000);
  await env.expectCounterDelta(before, `picoseg.denied.${reason}`, 1);
  const d = await env.envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === reason && match(x), 3000, before.decisions)
    .catch((err: Error) => {
      throw new Error(`${err.message}; decisions since the snapshot: ${JSON.stringify(env.envoy.decisions().slice(before.decisions))}`);
    });
  return d;
}
