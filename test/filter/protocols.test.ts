// Issue 13 in the filter (host emulator), on bytes recorded from real clients: the messaging
// protocols sniffed, Postgres framed as the wire has it, MQTT client ids and PUBLISH sizes.
import mqtt from "mqtt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMqttBroker, startPostgres, type Upstream } from "../wire/brokers.js";
import { record, until } from "../wire/capture.js";
import { config, hostWith, oneRule } from "./helpers.js";

let db: Upstream;
let broker: Upstream;
/** A real pg session's reads, client and server, as the relay saw them. */
let pgClient: Buffer[];
/** A device's MQTT 3.1.1 reads: CONNECT as sensor-0042, a 300-byte PUBLISH. */
let mqttClient: Buffer[];
let mqttServer: Buffer[];
let laptop: Buffer;
let amqpFirst: Buffer;

beforeAll(async () => {
  db = await startPostgres();
  broker = await startMqttBroker();
  const pgRelay = await record(db);
  const client = new pg.Client({ host: "127.0.0.1", port: pgRelay.port, user: "postgres", database: "postgres" });
  await client.connect();
  await client.query("select $1::text as note", ["p".repeat(2000)]);
  await client.end();
  await until(() => pgRelay.fromClient().includes(Buffer.from("X\0\0\0\x04")), 5000, "Terminate");
  pgClient = pgRelay.clientReads();
  await pgRelay.close();

  const relay = await record(broker);
  const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${relay.port}`, { clientId: "sensor-0042", reconnectPeriod: 0 });
  await dev.publishAsync("plant/t", Buffer.alloc(300, 0x31), { qos: 1 });
  await dev.endAsync();
  mqttClient = relay.clientReads();
  mqttServer = relay.serverReads();
  await relay.close();

  const silent = await record();
  const other = mqtt.connect(`mqtt://127.0.0.1:${silent.port}`, { clientId: "laptop-1", reconnectPeriod: 0 });
  other.on("error", () => {});
  await until(() => silent.fromClient().length > 20, 5000, "laptop CONNECT");
  other.end(true);
  laptop = silent.fromClient();
  silent.close();
  amqpFirst = Buffer.from("AMQP\x00\x00\x09\x01", "latin1"); // amqplib's protocol header (test/wire/signatures checks it is)
}, 60_000);

afterAll(async () => {
  await db?.close();
  await broker?.close();
});

const mqttRule = (...extra: string[]) => oneRule("protocol mqtt", "mqttClientId sensor-*", "framing mqtt", ...extra);

describe("MQTT client ids (from.mqttClientIds)", () => {
  it("a device connecting as sensor-0042 passes under sensor-*", async () => {
    const host = await hostWith(mqttRule());
    const c = host.connect();
    for (const read of mqttClient) expect(c.fromClient(read)).toBe(0);
    expect(c.closed).toBe(false);
    expect(Buffer.from(c.deliveredToServer).equals(Buffer.concat(mqttClient))).toBe(true);
  });

  it("laptop-1 is closed with source on its CONNECT; the broker gets none of it; the line names the field", async () => {
    const host = await hostWith(mqttRule());
    const c = host.connect();
    c.fromClient(laptop);
    expect(c.closeReason).toBe("source");
    expect(c.deliveredToServer.length).toBe(0);
    expect(c.decisions().at(-1)?.field).toBe("from.mqttClientIds");
    expect(host.counter("picoseg.denied.source")).toBe(1);
  });

  it("a first packet that is not a CONNECT has no client id: source", async () => {
    const host = await hostWith(oneRule("mqttClientId sensor-*", "framing mqtt"));
    const c = host.connect();
    c.fromClient(Uint8Array.of(0xc0, 0)); // PINGREQ
    expect(c.closeReason).toBe("source");
  });

  it("the CONNECT split at every byte is judged the same", async () => {
    const connect = laptop;
    for (let cut = 1; cut < connect.length; cut++) {
      const host = await hostWith(mqttRule());
      const c = host.connect();
      c.fromClient(connect.subarray(0, cut));
      expect(c.closed, `cut ${cut}`).toBe(false);
      c.fromClient(connect.subarray(cut));
      expect(c.closeReason, `cut ${cut}`).toBe("source");
    }
  });

  it("audit mode logs the client id and keeps the connection", async () => {
    const host = await hostWith(config("segment ns/seg audit", "rule r", "protocol mqtt", "mqttClientId sensor-*", "framing mqtt"));
    const c = host.connect();
    expect(c.fromClient(laptop)).toBe(0);
    expect(c.closed).toBe(false);
    expect(host.counter("picoseg.audit.source")).toBe(1);
  });
});

describe("maxPublishBytes", () => {
  it("a 300-byte payload passes at 300 and is message-size at 299, named limits.maxPublishBytes", async () => {
    const ok = (await hostWith(mqttRule("maxPublishBytes 300"))).connect();
    for (const read of mqttClient) ok.fromClient(read);
    expect(ok.closed).toBe(false);
    const host = await hostWith(mqttRule("maxPublishBytes 299"));
    const cut = host.connect();
    for (const read of mqttClient) cut.fromClient(read);
    expect(cut.closeReason).toBe("message-size");
    expect(cut.decisions().at(-1)?.field).toBe("limits.maxPublishBytes");
    expect(cut.deliveredToServer.includes(0x31)).toBe(false); // no payload byte reached the broker
  });

  it("the broker's side is framed too: its real replies pass, a reserved packet type 0 cannot be framed", async () => {
    const session = async (server: Uint8Array[]) => {
      const c = (await hostWith(mqttRule("maxPublishBytes 300", "maxMessageBytes 400"))).connect();
      c.fromClient(mqttClient[0]!); // the CONNECT claims the sniff for the client
      for (const read of server) c.fromServer(read);
      return c;
    };
    const ok = await session(mqttServer);
    expect(ok.closed).toBe(false);
    expect(Buffer.from(ok.deliveredToClient).equals(Buffer.concat(mqttServer))).toBe(true);
    const bad = await session([Uint8Array.of(0x20, 2, 0, 0, 0x00, 0x00)]);
    expect(bad.closeReason).toBe("message-size");
    expect(bad.decisions().at(-1)?.field).toBe("limits.framing");
  });
});

describe("framing postgres on a real pg session", () => {
  const largest = (): number => Math.max(...splitPg(Buffer.concat(pgClient)));

  it("passes at its largest message and frames every read; one byte less is message-size", async () => {
    const ok = (await hostWith(oneRule("protocol postgres", `maxMessageBytes ${largest()}`, "framing postgres"))).connect();
    for (const read of pgClient) expect(ok.fromClient(read)).toBe(0);
    expect(Buffer.from(ok.deliveredToServer).equals(Buffer.concat(pgClient))).toBe(true);
    const cut = (await hostWith(oneRule("protocol postgres", `maxMessageBytes ${largest() - 1}`, "framing postgres"))).connect();
    for (const read of pgClient) cut.fromClient(read);
    expect(cut.closeReason).toBe("message-size");
    expect(cut.decisions().at(-1)?.field).toBe("limits.maxMessageBytes");
  });

  it("the old lengthPrefixed form misframes the same session from its StartupMessage", async () => {
    const c = (await hostWith(oneRule("protocol postgres", `maxMessageBytes ${largest()}`, "framing lengthPrefixed 1 4 big -4"))).connect();
    for (const read of pgClient) c.fromClient(read);
    expect(c.closeReason).toBe("message-size");
  });
});

describe("messaging protocols in the sniffer", () => {
  it.each([
    ["mqtt", () => laptop],
    ["amqp", () => amqpFirst],
  ] as const)("%s first bytes are admitted under their protocol and nothing else", async (proto, bytes) => {
    const c = (await hostWith(oneRule(`protocol ${proto}`))).connect();
    expect(c.fromClient(bytes())).toBe(0);
    for (const other of ["postgres", "kafka", "nats", "unknown", proto === "mqtt" ? "amqp" : "mqtt"]) {
      const d = (await hostWith(oneRule(`protocol ${other}`))).connect();
      d.fromClient(bytes(), { end: true });
      expect(d.closeReason, `${proto} under ${other}`).toBe("protocol");
    }
  });

  it("nats is server-first: the INFO line decides, and the decision line names it", async () => {
    const info = 'INFO {"server_id":"NCX","version":"2.15.3","max_payload":1048576}\r\n';
    const ok = (await hostWith(oneRule("protocol nats"))).connect();
    ok.fromServer(info);
    expect(ok.closed).toBe(false);
    const no = (await hostWith(oneRule("protocol mqtt"))).connect();
    no.fromServer(info);
    expect(no.closeReason).toBe("protocol");
    expect(no.decisions().at(-1)?.protocol).toBe("nats");
  });
});

describe("configuration", () => {
  it("mqttClientId or maxPublishBytes without framing mqtt is refused (no-config)", async () => {
    for (const cfg of [oneRule("mqttClientId a*", "maxMessageBytes 10"), oneRule("maxPublishBytes 10", "framing kafka"), oneRule("framing postgres 1")]) {
      const c = (await hostWith(cfg)).connect();
      c.fromClient("x");
      expect(c.closeReason, cfg).toBe("no-config");
    }
  });
});

/** Message sizes of a client's Postgres stream (untyped start, then typed): the test's oracle. */
function splitPg(bytes: Buffer): number[] {
  const sizes: number[] = [];
  let i = 0;
  let untyped = true;
  while (i < bytes.length) {
    const len = untyped ? bytes.readUInt32BE(i) : 1 + bytes.readUInt32BE(i + 1);
    if (untyped && bytes.readUInt32BE(i + 4) >> 16 === 3) untyped = false;
    sizes.push(len);
    i += len;
  }
  return sizes;
}
