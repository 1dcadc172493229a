// First-byte signatures of mqtt, kafka and amqp on the bytes real client libraries send, the
// kafka framing of a real request, and the server name of a real TLS ClientHello.
import { connect as tlsConnect } from "node:tls";
import amqp from "amqplib";
import { Kafka, logLevel } from "kafkajs";
import mqtt from "mqtt";
import { connect as natsConnect } from "nats";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { record, until, type Recording } from "./capture.js";
import { startNatsServer } from "./nats.js";
import { SNIFF, WIRE, WireModule } from "./module.js";

let wire: WireModule;
const first = new Map<string, Buffer>();

/** A whole first TLS record has arrived. */
const wholeRecord = (b: Buffer): boolean => b.length >= 5 && b.length >= 5 + b.readUInt16BE(3);

/** The first bytes a client sends to a silent server, once at least `n` have arrived (or `n` holds). */
async function firstBytes(n: number | ((b: Buffer) => boolean), start: (r: Recording) => () => void): Promise<Buffer> {
  const relay = await record();
  const stop = start(relay);
  const enough = typeof n === "number" ? (b: Buffer) => b.length >= n : n;
  try {
    await until(() => enough(relay.fromClient()), 10_000, "the client's first bytes");
    return relay.fromClient();
  } finally {
    stop();
    await relay.close();
  }
}

beforeAll(async () => {
  wire = await WireModule.load();
  first.set("mqtt4", await firstBytes(14, (r) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${r.port}`, { clientId: "sensor-1", protocolVersion: 4, reconnectPeriod: 0 });
    c.on("error", () => {});
    return () => c.end(true);
  }));
  first.set("mqtt5", await firstBytes(14, (r) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${r.port}`, { clientId: "sensor-1", protocolVersion: 5, reconnectPeriod: 0 });
    c.on("error", () => {});
    return () => c.end(true);
  }));
  first.set("mqtt3", await firstBytes(14, (r) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${r.port}`, { clientId: "sensor-1", protocolVersion: 3, protocolId: "MQIsdp", reconnectPeriod: 0 });
    c.on("error", () => {});
    return () => c.end(true);
  }));
  first.set("kafka", await firstBytes(14, (r) => {
    const kafka = new Kafka({ clientId: "meter-reader", brokers: [`127.0.0.1:${r.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3000, requestTimeout: 3000 });
    const admin = kafka.admin();
    admin.connect().catch(() => {});
    return () => void admin.disconnect().catch(() => {});
  }));
  first.set("amqp", await firstBytes(8, (r) => {
    const conn = amqp.connect(`amqp://127.0.0.1:${r.port}`, { timeout: 3000 });
    conn.catch(() => {});
    return () => void conn.then((c) => c.close()).catch(() => {});
  }));
  first.set("postgres", await firstBytes(8, (r) => {
    const c = new pg.Client({ host: "127.0.0.1", port: r.port, user: "meter", database: "fleet", connectionTimeoutMillis: 3000 });
    c.connect().catch(() => {});
    return () => void c.end().catch(() => {});
  }));
  first.set("tls", await firstBytes(wholeRecord, (r) => {
    const s = tlsConnect({ host: "127.0.0.1", port: r.port, servername: "broker.plant1.example" });
    s.on("error", () => {});
    return () => s.destroy();
  }));
  // NATS speaks first: the server's INFO, through a relay to a real nats-server.
  const nats = await startNatsServer();
  const relay = await record(nats);
  const nc = await natsConnect({ servers: `127.0.0.1:${relay.port}`, name: "meter-7" });
  await nc.flush();
  await nc.close();
  first.set("natsServer", relay.fromServer());
  first.set("natsClient", relay.fromClient());
  await relay.close();
  await nats.close();
}, 120_000);

afterAll(() => first.clear());

const recognisers = ["mqtt", "kafka", "amqp"] as const;
const owner: Record<string, (typeof recognisers)[number] | undefined> = {
  mqtt3: "mqtt", mqtt4: "mqtt", mqtt5: "mqtt", kafka: "kafka", amqp: "amqp", postgres: undefined, tls: undefined,
};

describe("signatures on real first bytes", () => {
  it.each(Object.keys(owner))("%s bytes match their own signature and no other", (name) => {
    const bytes = first.get(name)!;
    for (const proto of recognisers) {
      const expected = owner[name] === proto ? SNIFF.match : SNIFF.no;
      expect(wire.sniff(proto, bytes), `${name} under ${proto}`).toBe(expected);
    }
  });

  it("each signature asks for more bytes, never guesses, on a prefix of its own", () => {
    for (const [name, proto] of [["mqtt5", "mqtt"], ["kafka", "kafka"], ["amqp", "amqp"]] as const) {
      const bytes = first.get(name)!;
      for (let n = 0; n < 5; n++) expect(wire.sniff(proto, bytes.subarray(0, n)), `${name} first ${n}`).toBe(SNIFF.more);
    }
  });

  it("nats: a real server's INFO line matches, the client's CONNECT and the others do not", () => {
    const info = first.get("natsServer")!;
    expect(info.subarray(0, 5).toString()).toBe("INFO ");
    expect(wire.sniff("nats", info)).toBe(SNIFF.match);
    expect(wire.sniff("nats", info.subarray(0, 4))).toBe(SNIFF.more);
    for (const name of ["natsClient", "mqtt4", "kafka", "amqp", "postgres", "tls"]) {
      expect(wire.sniff("nats", first.get(name)!), name).toBe(SNIFF.no);
    }
    for (const proto of recognisers) expect(wire.sniff(proto, info), proto).toBe(SNIFF.no);
  });
});

describe("framing kafka on a real request", () => {
  it("an int32 size then that many bytes: the request is exactly 4 + size", () => {
    const bytes = first.get("kafka")!;
    const size = 4 + bytes.readUInt32BE(0);
    const request = bytes.subarray(0, size);
    expect(wire.connection("kafka", size).client.feed(request)).toBe(WIRE.ok);
    expect(wire.connection("kafka", size - 1).client.feed(request)).toBe(WIRE.tooBig);
    const split = wire.connection("kafka", size).client;
    for (const b of request) expect(split.feed(Uint8Array.of(b))).toBe(WIRE.ok);
    expect(wire.connection("kafka", 1 << 30).client.feed(Uint8Array.of(0x80, 0, 0, 0))).toBe(WIRE.malformed);
  });
});

describe("TLS server name (SNI)", () => {
  it("reads the server name of a real ClientHello", () => {
    expect(wire.serverName(first.get("tls")!)).toBe("broker.plant1.example");
  });

  it("waits for the whole first record, and a non-TLS start has no name", () => {
    const hello = first.get("tls")!;
    expect(wire.serverName(hello.subarray(0, hello.length - 1))).toBe("more");
    expect(wire.serverName(first.get("mqtt4")!)).toBe("malformed");
  });

  it("a ClientHello without server_name (connecting by address) has none", async () => {
    const bytes = await firstBytes(wholeRecord, (r) => {
      const s = tlsConnect({ host: "127.0.0.1", port: r.port });
      s.on("error", () => {});
      return () => s.destroy();
    });
    expect(wire.serverName(bytes)).toBe("none");
  });

  it.each([
    ["broker.plant1.example", "broker.plant1.example", true],
    ["BROKER.Plant1.example", "broker.plant1.example", true],
    ["*.plant1.example", "broker.plant1.example", true],
    ["*.plant1.example", "a.b.plant1.example", true],
    ["*.plant1.example", "plant1.example", false],
    ["*.plant1.example", "xplant1.example", false],
    ["broker.plant1.example", "broker.plant2.example", false],
  ] as const)("pattern %s against %s: %s", (pattern, name, expected) => {
    expect(wire.serverNameMatches(pattern, name)).toBe(expected);
  });
});
