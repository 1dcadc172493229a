// `framing: postgres` over a real session: node-postgres (pg) against PGlite's wire server,
// recorded by a relay, then framed in every way the bytes could be split across reads.
import { connect as tlsConnect } from "node:tls";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type Upstream } from "./brokers.js";
import { record, until } from "./capture.js";
import { WIRE, WireModule } from "./module.js";

let wire: WireModule;
let db: Upstream;
let clientBytes: Buffer;
let serverBytes: Buffer;

/** Message sizes of a plaintext session, read the way the protocol documentation lays it out (the test's oracle). */
function messageSizes(bytes: Buffer, startup: boolean): number[] {
  const sizes: number[] = [];
  let i = 0;
  let untyped = startup;
  while (i < bytes.length) {
    if (untyped) {
      const len = bytes.readUInt32BE(i);
      if (bytes.readUInt32BE(i + 4) >> 16 === 3) untyped = false;
      sizes.push(len);
      i += len;
    } else {
      const len = 1 + bytes.readUInt32BE(i + 1);
      sizes.push(len);
      i += len;
    }
  }
  expect(i).toBe(bytes.length);
  return sizes;
}

function frame(kind: "client" | "server", chunks: Uint8Array[], max: number, prefix: { client?: Uint8Array[]; server?: Uint8Array[] } = {}): number {
  const c = wire.connection("postgres", max);
  for (const p of prefix.client ?? []) expect(c.client.feed(p)).toBe(WIRE.ok);
  for (const p of prefix.server ?? []) expect(c.server.feed(p)).toBe(WIRE.ok);
  const side = kind === "client" ? c.client : c.server;
  for (const chunk of chunks) {
    const r = side.feed(chunk);
    if (r !== WIRE.ok) return r;
  }
  return WIRE.ok;
}

beforeAll(async () => {
  wire = await WireModule.load();
  db = await startPostgres();
  const relay = await record(db);
  const client = new pg.Client({ host: "127.0.0.1", port: relay.port, user: "postgres", database: "postgres" });
  await client.connect();
  await client.query("create table payments (id serial primary key, note text)");
  await client.query("insert into payments (note) values ($1)", ["x".repeat(3000)]);
  const rows = await client.query("select note from payments");
  expect(rows.rows[0].note).toHaveLength(3000);
  await client.end();
  await until(() => relay.fromClient().includes(Buffer.from("X\0\0\0\x04")), 5000, "Terminate");
  clientBytes = relay.fromClient();
  serverBytes = relay.fromServer();
  await relay.close();
}, 60_000);

afterAll(async () => {
  await db?.close();
});

describe("framing postgres on a real pg session", () => {
  it("the client's StartupMessage is untyped, every later message typed: frames to the last byte", () => {
    const sizes = messageSizes(clientBytes, true);
    const max = Math.max(...sizes);
    expect(max).toBeGreaterThan(3000); // the Bind carrying the 3000-byte note
    expect(frame("client", [clientBytes], max)).toBe(WIRE.ok);
    expect(frame("client", [clientBytes], max - 1)).toBe(WIRE.tooBig);
  });

  it("only header bytes are read: the 3000-byte parameter is skipped by count", () => {
    wire.bytesAsked();
    expect(frame("client", [clientBytes], 1 << 20)).toBe(WIRE.ok);
    const asked = wire.bytesAsked();
    expect(asked).toBe(8 + 5 * (messageSizes(clientBytes, true).length - 1));
    expect(asked).toBeLessThan(clientBytes.length / 10);
  });

  it("the server is typed from its first byte", () => {
    const sizes = messageSizes(serverBytes, false);
    const max = Math.max(...sizes);
    expect(frame("server", [serverBytes], max)).toBe(WIRE.ok);
    expect(frame("server", [serverBytes], max - 1)).toBe(WIRE.tooBig);
  });

  it("the old lengthPrefixed form misreads the StartupMessage: its first 'type byte' is a length byte", () => {
    // offset 1, width 4 over the StartupMessage reads bytes 1..4 as a length: not the message's.
    const misread = 1 + 4 + clientBytes.readUInt32BE(1) - 4;
    expect(misread).not.toBe(clientBytes.readUInt32BE(0));
  });

  it("messages split at any byte are framed the same (both directions)", () => {
    for (const [kind, bytes] of [["client", clientBytes], ["server", serverBytes]] as const) {
      const max = Math.max(...messageSizes(bytes, kind === "client"));
      for (let cut = 1; cut < bytes.length; cut += 3) {
        expect(frame(kind, [bytes.subarray(0, cut), bytes.subarray(cut)], max), `${kind} cut at ${cut}`).toBe(WIRE.ok);
      }
      const oneByOne = Array.from(bytes, (b) => Uint8Array.of(b));
      expect(frame(kind, oneByOne, max)).toBe(WIRE.ok);
      expect(frame(kind, oneByOne, max - 1)).toBe(WIRE.tooBig);
    }
  });
});

const sslRequest = Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f);
const gssencRequest = Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30);
const cancelRequest = Uint8Array.of(0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2);

/** A real TLS ClientHello (Node's TLS client), as recorded. */
async function clientHello(): Promise<Buffer> {
  const relay = await record();
  const socket = tlsConnect({ host: "127.0.0.1", port: relay.port, servername: "db.payments.example" });
  socket.on("error", () => {});
  await until(() => relay.fromClient().length > 5 && relay.fromClient().length >= 5 + relay.fromClient().readUInt16BE(3), 5000, "ClientHello");
  socket.destroy();
  const hello = relay.fromClient();
  await relay.close();
  return hello;
}

describe("framing postgres: the untyped start", () => {
  it("SSLRequest answered 'N': the client goes on with its StartupMessage", () => {
    const max = Math.max(...messageSizes(clientBytes, true));
    const c = wire.connection("postgres", max);
    expect(c.client.feed(sslRequest)).toBe(WIRE.ok);
    expect(c.server.feed(Uint8Array.of(0x4e))).toBe(WIRE.ok);
    expect(c.client.feed(clientBytes)).toBe(WIRE.ok);
    expect(c.server.feed(serverBytes)).toBe(WIRE.ok);
  });

  it("GSSENCRequest answered 'N', then SSLRequest answered 'S': TLS records from then on", async () => {
    const hello = await clientHello();
    const c = wire.connection("postgres", hello.length);
    expect(c.client.feed(gssencRequest)).toBe(WIRE.ok);
    expect(c.server.feed(Uint8Array.of(0x4e))).toBe(WIRE.ok);
    expect(c.client.feed(sslRequest)).toBe(WIRE.ok);
    expect(c.server.feed(Uint8Array.of(0x53))).toBe(WIRE.ok);
    expect(c.client.feed(hello)).toBe(WIRE.ok);
    const small = wire.connection("postgres", hello.length - 1);
    small.client.feed(sslRequest);
    small.server.feed(Uint8Array.of(0x53));
    expect(small.client.feed(hello)).toBe(WIRE.tooBig);
  });

  it("a direct TLS start (sslnegotiation=direct) is framed as TLS records", async () => {
    const hello = await clientHello();
    expect(wire.connection("postgres", hello.length).client.feed(hello)).toBe(WIRE.ok);
    expect(wire.connection("postgres", hello.length - 1).client.feed(hello)).toBe(WIRE.tooBig);
  });

  it("bytes pipelined behind an SSLRequest before the server's answer are refused (CVE-2021-23222)", () => {
    const c = wire.connection("postgres", 1 << 20);
    expect(c.client.feed(Buffer.concat([sslRequest, clientBytes.subarray(0, 20)]))).toBe(WIRE.ok);
    expect(c.server.feed(Uint8Array.of(0x53))).toBe(WIRE.ok);
    expect(c.client.feed(clientBytes.subarray(20))).toBe(WIRE.malformed);
  });

  it("CancelRequest is a 16-byte untyped message", () => {
    expect(wire.connection("postgres", 16).client.feed(cancelRequest)).toBe(WIRE.ok);
    expect(wire.connection("postgres", 15).client.feed(cancelRequest)).toBe(WIRE.tooBig);
  });

  it("an untyped start that is no known request, or a length below 8, cannot be framed", () => {
    expect(wire.connection("postgres", 100).client.feed(Uint8Array.of(0, 0, 0, 8, 0, 2, 0, 0))).toBe(WIRE.malformed);
    expect(wire.connection("postgres", 100).client.feed(Uint8Array.of(0, 0, 0, 7, 0, 3, 0, 0))).toBe(WIRE.malformed);
    expect(wire.connection("postgres", 100).server.feed(Uint8Array.of(0x52, 0, 0, 0, 3))).toBe(WIRE.malformed);
  });
});
