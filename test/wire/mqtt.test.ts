// `framing: mqtt`, the CONNECT client id and PUBLISH payload sizes, over real sessions: the
// mqtt client library (3.1.1 and 5) through a recording relay to a real aedes broker.
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMqtt5Responder, startMqttBroker, type Upstream } from "./brokers.js";
import { record, until } from "./capture.js";
import { MQTT_ID, WIRE, WireModule } from "./module.js";

let wire: WireModule;
let broker: Upstream;
let broker5: Upstream;

interface Session {
  client: Buffer;
  server: Buffer;
  clientReads: Buffer[];
}

const sessions = new Map<4 | 5, Session>();
const PAYLOAD = 1000;

/** The packets of an MQTT byte stream (the test's oracle: fixed header, varint, body); undefined while the last is incomplete. */
function packets(bytes: Buffer): Array<{ type: number; size: number }> | undefined {
  const out: Array<{ type: number; size: number }> = [];
  let i = 0;
  while (i < bytes.length) {
    let len = 0;
    let k = 0;
    for (;;) {
      if (i + 1 + k >= bytes.length) return undefined;
      const b = bytes[i + 1 + k]!;
      len |= (b & 127) << (7 * k);
      k++;
      if ((b & 128) === 0) break;
    }
    out.push({ type: bytes[i]! >> 4, size: 1 + k + len });
    i += 1 + k + len;
  }
  return i === bytes.length ? out : undefined;
}

function packetSizes(bytes: Buffer): number[] {
  const all = packets(bytes);
  expect(all).toBeDefined();
  return (all ?? []).map((p) => p.size);
}

const COMMAND = Buffer.alloc(PAYLOAD + 1, 0x38);

/**
 * A device session: CONNECT as sensor-0042, SUBSCRIBE to its commands, PUBLISH a PAYLOAD-byte
 * reading (QoS 1) and receive a PAYLOAD + 1 byte command. 3.1.1 through aedes, where a second
 * real client sees the reading and sends the command; 5 through startMqtt5Responder.
 */
async function session(protocolVersion: 4 | 5): Promise<Session> {
  const relay = await record(protocolVersion === 4 ? broker : broker5);
  const sub = protocolVersion === 4 ? await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: "dashboard" }) : undefined;
  await sub?.subscribeAsync("plant/#", { qos: 1 });
  const got = new Promise<Buffer>((resolve) => sub?.on("message", (_t, m) => resolve(m)));
  const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${relay.port}`, { clientId: "sensor-0042", protocolVersion, reconnectPeriod: 0 });
  const command = new Promise<Buffer>((resolve) => dev.on("message", (_t, m) => resolve(m)));
  await dev.subscribeAsync("plant/commands", { qos: 1 });
  await dev.publishAsync("plant/line1/temperature", Buffer.alloc(PAYLOAD, 0x37), { qos: 1 });
  if (sub) {
    expect((await got).length).toBe(PAYLOAD);
    await sub.publishAsync("plant/commands", COMMAND, { qos: 0 });
  }
  expect(await command).toEqual(COMMAND);
  await dev.endAsync();
  await sub?.endAsync();
  await until(() => packets(relay.fromClient())?.at(-1)?.type === 14, 5000, "DISCONNECT");
  const s = { client: relay.fromClient(), server: relay.fromServer(), clientReads: relay.clientReads() };
  await relay.close();
  return s;
}

beforeAll(async () => {
  wire = await WireModule.load();
  broker = await startMqttBroker();
  broker5 = await startMqtt5Responder(COMMAND);
  sessions.set(4, await session(4));
  sessions.set(5, await session(5));
}, 60_000);

afterAll(async () => {
  await broker?.close();
  await broker5?.close();
});

describe.each([4, 5] as const)("framing mqtt, protocol level %i, real client and broker", (level) => {
  it("frames both directions to the last byte; the largest packet is the limit", () => {
    const s = sessions.get(level)!;
    for (const side of ["client", "server"] as const) {
      const max = Math.max(...packetSizes(s[side]));
      const ok = wire.connection("mqtt", max);
      const small = wire.connection("mqtt", max - 1);
      if (side === "server") {
        ok.client.feed(s.client);
        small.client.feed(s.client);
      }
      expect(ok[side].feed(s[side]), side).toBe(WIRE.ok);
      expect(small[side].feed(s[side]), side).toBe(WIRE.tooBig);
    }
  });

  it("reads the CONNECT client id and the protocol level", () => {
    const c = wire.connection("mqtt", 1 << 20).client;
    expect(c.feed(sessions.get(level)!.client)).toBe(WIRE.ok);
    expect(wire.mqttClientId(c)).toEqual({ state: MQTT_ID.read, id: "sensor-0042", level });
  });

  it("the client id is read whatever the split, even one byte per read", () => {
    const bytes = sessions.get(level)!.client;
    for (let cut = 1; cut < 40; cut++) {
      const c = wire.connection("mqtt", 1 << 20).client;
      c.feed(bytes.subarray(0, cut));
      expect(c.feed(bytes.subarray(cut))).toBe(WIRE.ok);
      expect(wire.mqttClientId(c).id, `cut at ${cut}`).toBe("sensor-0042");
    }
    const c = wire.connection("mqtt", 1 << 20).client;
    for (const b of bytes) expect(c.feed(Uint8Array.of(b))).toBe(WIRE.ok);
    expect(wire.mqttClientId(c).id).toBe("sensor-0042");
  });

  it("maxPublishBytes: a payload of exactly the limit passes, one byte more does not (either direction)", () => {
    const s = sessions.get(level)!;
    const at = (max: number) => wire.connection("mqtt", 1 << 20, max);
    expect(at(PAYLOAD).client.feed(s.client)).toBe(WIRE.ok);
    expect(at(PAYLOAD - 1).client.feed(s.client)).toBe(WIRE.publishTooBig);
    // The broker delivers the 1001-byte command to the device.
    const ok = at(PAYLOAD + 1);
    ok.client.feed(s.client);
    expect(ok.server.feed(s.server)).toBe(WIRE.ok);
    const cut = at(PAYLOAD);
    cut.client.feed(s.client);
    expect(cut.server.feed(s.server)).toBe(WIRE.publishTooBig);
  });
});

describe("framing mqtt: the client id", () => {
  it("a first packet that is not CONNECT leaves no client id", () => {
    const c = wire.connection("mqtt", 100).client;
    expect(c.feed(Uint8Array.of(0xc0, 0))).toBe(WIRE.ok); // PINGREQ
    expect(wire.mqttClientId(c).state).toBe(MQTT_ID.absent);
  });

  it("a client id longer than 256 bytes is kept nowhere", async () => {
    const relay = await record();
    const cl = mqtt.connect(`mqtt://127.0.0.1:${relay.port}`, { clientId: `sensor-${"9".repeat(300)}`, reconnectPeriod: 0 });
    cl.on("error", () => {});
    await until(() => relay.fromClient().length >= 320, 5000, "CONNECT");
    cl.end(true);
    const c = wire.connection("mqtt", 1 << 20).client;
    expect(c.feed(relay.fromClient())).toBe(WIRE.ok);
    expect(wire.mqttClientId(c).state).toBe(MQTT_ID.tooLong);
    await relay.close();
  });

  it("a remaining length of five varint bytes, or reserved packet type 0, cannot be framed", () => {
    expect(wire.connection("mqtt", 1 << 30).client.feed(Uint8Array.of(0x10, 0xff, 0xff, 0xff, 0xff, 0x01))).toBe(WIRE.malformed);
    expect(wire.connection("mqtt", 1 << 30).client.feed(Uint8Array.of(0x00, 0x00))).toBe(WIRE.malformed);
  });

  it("a CONNECT whose client id runs past its packet cannot be framed", () => {
    const connect = Uint8Array.of(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 9);
    expect(wire.connection("mqtt", 100).client.feed(connect)).toBe(WIRE.malformed);
  });
});
