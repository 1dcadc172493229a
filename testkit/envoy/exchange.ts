// What several integration tests share: one request/echo round trip through a sidecar from a chosen
// loopback source, the CLI run as an operator runs it, and a list of things to stop after a test.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { waitFor } from "../../xds-server/src/util/wait.js";
import { TcpClient } from "./client.js";

/** Connects from `from` (a 127.0.0.0/8 address), sends `payload`, waits for its echo, closes. */
export async function exchange(port: number, from: string, payload: string | Buffer): Promise<void> {
  const c = await TcpClient.connect(port, { from });
  await c.write(payload);
  await waitFor("the echo", () => (c.received().length >= payload.length ? true : undefined), 5000);
  c.socket.end();
  await waitFor("the close", () => c.closedBy, 5000);
}

export { picoseg } from "../cli/index.js";

/** Things to stop after each test, last started first: `afterEach(() => stops.run())`. */
export class Stops {
  private readonly list: Array<() => Promise<void>> = [];

  add<T extends { stop?: () => Promise<void>; close?: () => Promise<void> }>(thing: T): T {
    this.list.push(() => (thing.stop ?? thing.close)!.call(thing));
    return thing;
  }

  async run(): Promise<void> {
    for (const stop of this.list.splice(0).reverse()) await stop();
  }
}

/** A temporary folder removed after the test, with `token` in its file `token` (for --admin-token-file). */
export async function tokenScratch(stops: Stops, prefix: string, token: string): Promise<{ dir: string; tokenFile: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  stops.add({ close: () => rm(dir, { recursive: true, force: true }) });
  const tokenFile = path.join(dir, "token");
  await writeFile(tokenFile, `${token}\n`);
  return { dir, tokenFile };
}
