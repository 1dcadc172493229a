// Issue 13 through the real Envoy and the real filter, with real client libraries and real
// broker-like upstreams: MQTT (the mqtt client through Envoy to an aedes broker) with client-id
// prefixes and PUBLISH payload limits, Postgres (pg through Envoy to PGlite) framed as the wire
// has it, and the messaging protocols sniffed from their first bytes (nats, amqp, kafka).
import amqp from "amqplib";
import { Kafka, logLevel } from "kafkajs";
import mqtt from "mqtt";
import { connect as natsConnect } from "nats";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMqttBroker, startPostgres, type Upstream } from "../wire/brokers.js";
import { startNatsServer } from "../wire/nats.js";
import type { Decision } from "../../api/decision.js";
import { FilterEnv, compileSegments, segment, sleep, waitFor, type Snapshot } from "../../testkit/envoy/harness.js";

const PUBLISH_LIMIT = 256;
const PG_LIMIT = 4096;

let env: FilterEnv;
let broker: Upstream & { broker: import("aedes").Aedes };
let db: Upstream;
let nats: Upstream;

/** Waits for one deny decision of `reason` (and its counter) since `before`. */
async function denied(before: Snapshot, reason: string): Promise<Decision> {
  await env.expectCounterDelta(before, `picoseg.denied.${reason}`, 1);
  return env.envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === reason, 3000, before.decisions);
}

beforeAll(async () => {
  broker = await startMqttBroker();
  db = await startPostgres();
  nats = await startNatsServer();
  env = await FilterEnv.start([
    {
      name: "mqtt",
      target: broker,
      config: () => compileSegments([segment("fleet", { rules: [{
        name: "sensors",
        from: { mqttClientIds: ["sensor-*"] },
        protocols: ["mqtt"],
        limits: { maxMessageBytes: 4096, maxPublishBytes: PUBLISH_LIMIT, framing: { type: "mqtt" } },
      }] })]),
    },
    {
      name: "pg",
      target: db,
      config: () => compileSegments([segment("payments-db", { rules: [{
        name: "api-to-db",
        protocols: ["postgres"],
        limits: { maxMessageBytes: PG_LIMIT, framing: { type: "postgres" } },
      }] })]),
    },
    {
      name: "nats",
      target: nats,
      config: () => compileSegments([segment("bus", { rules: [{ name: "nats-only", protocols: ["nats"] }] })]),
    },
    {
      name: "notNats",
      target: nats,
      config: () => compileSegments([segment("bus", { rules: [{ name: "mqtt-only", protocols: ["mqtt"] }] })]),
    },
    {
      name: "amqp",
      config: () => compileSegments([segment("queue", { rules: [{ name: "amqp-only", protocols: ["amqp"] }] })]),
    },
    {
      name: "notAmqp",
      config: () => compileSegments([segment("queue", { rules: [{ name: "mqtt-only", protocols: ["mqtt"] }] })]),
    },
    {
      name: "kafka",
      config: () => compileSegments([segment("log", { rules: [{
        name: "small-requests", protocols: ["kafka"], limits: { maxMessageBytes: 40, framing: { type: "kafka" } },
      }] })]),
    },
  ]);
}, 120_000);

afterAll(async () => {
  await env?.stop();
  await broker?.close();
  await db?.close();
  await nats?.close();
});

describe("MQTT through Envoy to an aedes broker", () => {
  /** A subscriber straight on the broker, and what it has received. */
  async function subscriber(topic: string): Promise<{ got: Buffer[]; end(): Promise<void> }> {
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: `dashboard-${Date.now()}` });
    await sub.subscribeAsync(topic, { qos: 1 });
    const got: Buffer[] = [];
    sub.on("message", (_t, m) => got.push(m));
    return { got, end: () => sub.endAsync() };
  }

  it(`a device connecting as sensor-7 publishes a ${PUBLISH_LIMIT}-byte reading (exactly the limit)`, async () => {
    const sub = await subscriber("plant/sensor-7");
    const before = await env.snapshot();
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${env.port("mqtt")}`, { clientId: "sensor-7", reconnectPeriod: 0 });
    await dev.publishAsync("plant/sensor-7", Buffer.alloc(PUBLISH_LIMIT, 0x31), { qos: 1 });
    await waitFor("the reading at the subscriber", async () => (sub.got.length === 1 ? true : undefined), 5000, 20);
    expect(sub.got[0]!.length).toBe(PUBLISH_LIMIT);
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
    expect(dev.connected).toBe(true);
    await dev.endAsync();
    await sub.end();
  });

  it("a client id outside sensor-* is closed with `source` on its CONNECT; the broker never sees it", async () => {
    let connects = 0;
    const count = (client: { id: string }): void => void (client.id === "laptop-1" && connects++);
    broker.broker.on("client", count);
    const before = await env.snapshot();
    const dev = mqtt.connect(`mqtt://127.0.0.1:${env.port("mqtt")}`, { clientId: "laptop-1", reconnectPeriod: 0, connectTimeout: 3000 });
    const failed = new Promise<string>((resolve) => {
      dev.on("error", (e) => resolve(`error ${e.message}`));
      dev.on("close", () => resolve("closed"));
    });
    expect(await failed).toBeDefined();
    const d = await denied(before, "source");
    expect(d.field).toBe("from.mqttClientIds");
    expect(d.rule).toBe("sensors");
    await sleep(200);
    expect(connects).toBe(0);
    dev.end(true);
    broker.broker.removeListener("client", count);
  });

  it(`a ${PUBLISH_LIMIT + 1}-byte payload is closed with message-size; the subscriber never gets it`, async () => {
    const sub = await subscriber("plant/sensor-8");
    const before = await env.snapshot();
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${env.port("mqtt")}`, { clientId: "sensor-8", reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => dev.on("close", () => resolve()));
    dev.publish("plant/sensor-8", Buffer.alloc(PUBLISH_LIMIT + 1, 0x32), { qos: 0 });
    await closed;
    const d = await denied(before, "message-size");
    expect(d.field).toBe("limits.maxPublishBytes");
    await sleep(300);
    expect(sub.got).toEqual([]);
    dev.end(true);
    await sub.end();
  });
});

describe("Postgres through Envoy to PGlite, framing postgres", () => {
  it(`a real pg session (StartupMessage, queries, a ${PG_LIMIT - 200}-byte parameter) passes`, async () => {
    const before = await env.snapshot();
    const client = new pg.Client({ host: "127.0.0.1", port: env.port("pg"), user: "postgres", database: "postgres" });
    await client.connect();
    await client.query("create table if not exists notes (body text)");
    await client.query("insert into notes values ($1)", ["n".repeat(PG_LIMIT - 200)]);
    const r = await client.query("select length(body) as n from notes");
    expect(r.rows[0].n).toBe(PG_LIMIT - 200);
    await client.end();
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
  });

  it(`a message over ${PG_LIMIT} bytes closes the connection with message-size before PGlite sees it`, async () => {
    const before = await env.snapshot();
    const client = new pg.Client({ host: "127.0.0.1", port: env.port("pg"), user: "postgres", database: "postgres" });
    client.on("error", () => {});
    await client.connect();
    await expect(client.query("insert into notes values ($1)", ["m".repeat(PG_LIMIT + 1)])).rejects.toThrow();
    await denied(before, "message-size");
    const check = new pg.Client({ host: "127.0.0.1", port: db.port, user: "postgres", database: "postgres" });
    await check.connect();
    const r = await check.query("select count(*)::int as n from notes where body like 'm%'");
    expect(r.rows[0].n).toBe(0);
    await check.end();
  });
});

describe("messaging protocols sniffed from real clients", () => {
  it("nats (server-first INFO from a real nats-server) passes under protocols [nats]", async () => {
    const before = await env.snapshot();
    const nc = await natsConnect({ servers: `127.0.0.1:${env.port("nats")}`, name: "meter-1" });
    const sub = nc.subscribe("meters.>", { max: 1 });
    nc.publish("meters.7", "42");
    for await (const m of sub) expect(new TextDecoder().decode(m.data)).toBe("42");
    await nc.close();
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
  });

  it("nats under protocols [mqtt] is closed with protocol", async () => {
    const before = await env.snapshot();
    await expect(natsConnect({ servers: `127.0.0.1:${env.port("notNats")}`, reconnect: false, timeout: 3000 })).rejects.toThrow();
    const d = await denied(before, "protocol");
    expect(d.protocol).toBe("nats");
  });

  it("an HTTP client on the MQTT listener is closed with protocol; the broker sees nothing", async () => {
    let clients = 0;
    const count = (): void => void clients++;
    broker.broker.on("client", count);
    const before = await env.snapshot();
    const res = await fetch(`http://127.0.0.1:${env.port("mqtt")}/`).then(() => "answered", (e: Error) => `failed ${e.message}`);
    expect(res).toMatch(/^failed/);
    const d = await denied(before, "protocol");
    expect(d.protocol).toBe("http1");
    expect(clients).toBe(0);
    broker.broker.removeListener("client", count);
  });

  it("amqplib under protocols [mqtt] is closed with protocol", async () => {
    const before = await env.snapshot();
    await expect(amqp.connect(`amqp://127.0.0.1:${env.port("notAmqp")}`, { timeout: 2000 })).rejects.toThrow();
    const d = await denied(before, "protocol");
    expect(d.protocol).toBe("amqp");
  });

  it("amqplib's protocol header is amqp: it reaches the upstream", async () => {
    const before = await env.snapshot();
    const up = env.upstream("amqp");
    const index = up.connections.length;
    const conn = amqp.connect(`amqp://127.0.0.1:${env.port("amqp")}`, { timeout: 2000 });
    conn.catch(() => {});
    const c = await up.waitForConnection(index + 1);
    await c.waitForBytes(8, 3000);
    expect(c.received().subarray(0, 4).toString()).toBe("AMQP");
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
    await conn.then((x) => x.close()).catch(() => {});
  });

  it("kafkajs: its ApiVersions request is kafka and within 40 bytes; a larger request is message-size", async () => {
    const before = await env.snapshot();
    const up = env.upstream("kafka");
    const index = up.connections.length;
    const kafka = new Kafka({ clientId: "m", brokers: [`127.0.0.1:${env.port("kafka")}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000, requestTimeout: 2000 });
    const admin = kafka.admin();
    admin.connect().catch(() => {});
    const c = await up.waitForConnection(index + 1);
    const size = (await c.waitForBytes(4, 3000)).readUInt32BE(0);
    expect(size + 4).toBeLessThanOrEqual(40);
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
    await admin.disconnect().catch(() => {});

    const before2 = await env.snapshot();
    const big = new Kafka({ clientId: "m".repeat(60), brokers: [`127.0.0.1:${env.port("kafka")}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000, requestTimeout: 2000 });
    const admin2 = big.admin();
    await expect(admin2.connect()).rejects.toThrow();
    const d = await denied(before2, "message-size");
    expect(d.protocol).toBe("kafka");
  });
});
