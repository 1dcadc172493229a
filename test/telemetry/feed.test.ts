// The live feed of denied attempts over real HTTP on 127.0.0.1: a subscriber that stops reading is
// cut off once MAX_BUFFERED bytes wait for it, and the feed goes on for the others.
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DenialFeed, MAX_BUFFERED } from "../../xds-server/src/telemetry/feed.js";
import { waitFor } from "../../xds-server/src/util/wait.js";
import { report } from "./fixtures.js";

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function feedServer(feed: DenialFeed): Promise<number> {
  const server: Server = createServer((_req, res) => feed.attach(res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanup.push(() => {
    feed.close();
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

/** A raw HTTP client of /decisions/live; `paused`: it stops reading after its first bytes. */
function subscribe(port: number, paused: boolean): Promise<{ socket: Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    let got = "";
    const socket = connect(port, "127.0.0.1", () => socket.write("GET /decisions/live HTTP/1.1\r\nHost: x\r\n\r\n"));
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    socket.once("data", (chunk: string) => {
      got += chunk;
      if (paused) socket.pause();
      else socket.on("data", (c: string) => (got += c));
      resolve({ socket, text: () => got });
    });
    socket.once("close", () => reject(new Error("closed before the headers")));
    cleanup.push(() => socket.destroy());
  });
}

const denial = (i: number) =>
  report({ seq: i, conns: [], denials: [{ reason: "source", principal: `spiffe://cluster.local/ns/x/sa/${"p".repeat(2000)}${i}`, ip: "10.0.0.1", port: 5432, mode: "enforce", n: 1 }] });

describe("the live feed of denied attempts", () => {
  it("drops a subscriber that stops reading once MAX_BUFFERED waits for it, and serves the next one", async () => {
    const feed = new DenialFeed();
    const port = await feedServer(feed);
    const stalled = await subscribe(port, true);
    await waitFor("subscribed", () => (feed.size === 1 ? true : undefined), 5000);
    const closed = new Promise<void>((r) => stalled.socket.once("close", () => r()));
    // About 2 KiB per event: the stalled socket's kernel buffers fill, then the server's.
    let sent = 0;
    while (feed.size === 1 && sent < 20_000) {
      feed.publish("shop/db", denial(++sent));
      if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(feed.size).toBe(0);
    expect(sent * 2000).toBeGreaterThan(MAX_BUFFERED);
    // Once it reads again, it finds its stream ended by the server.
    stalled.socket.resume();
    await closed;
    // A new subscriber gets the latest events replayed, then the next one live.
    const reading = await subscribe(port, false);
    await waitFor("the replay", () => (reading.text().includes(`p${sent}"`) ? true : undefined), 5000);
    feed.publish("shop/db", denial(++sent));
    await waitFor("the next event", () => (reading.text().includes(`p${sent}"`) ? true : undefined), 5000);
    expect(feed.size).toBe(1);
  });
});
