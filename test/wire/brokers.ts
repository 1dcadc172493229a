// Broker-like upstreams from npm, on loopback at free ports: an MQTT broker (aedes) and a
// Postgres wire-protocol server (PGlite behind its socket server).
import { createServer, type Socket } from "node:net";
import { Aedes } from "aedes";
import mqttPacket from "mqtt-packet";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { listenOnLoopback } from "./capture.js";

export interface Upstream {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** An aedes MQTT broker (3.1.1 and 5). `authorizePublish` may refuse publishes. */
export async function startMqttBroker(): Promise<Upstream & { broker: Aedes }> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    broker.handle(s);
  });
  const port = await listenOnLoopback(server, "mqtt broker");
  return {
    broker,
    host: "127.0.0.1",
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

/** An in-process Postgres (PGlite) that real clients reach over the wire protocol. */
export async function startPostgres(): Promise<Upstream & { db: PGlite }> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 16 });
  await server.start();
  const port = Number(/:(\d+)$/.exec(server.getServerConn())?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`postgres: no port in ${server.getServerConn()}`);
  return {
    db,
    host: "127.0.0.1",
    port,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

/**
 * aedes speaks MQTT 3.1 and 3.1.1 only. For MQTT 5 sessions, a minimal broker built on
 * mqtt-packet (the mqtt client library's own codec): CONNACK, SUBACK, PUBACK, PINGRESP, and on
 * each SUBSCRIBE one PUBLISH of `command` to the subscribed topic.
 */
export async function startMqtt5Responder(command: Buffer): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const send = (packet: mqttPacket.Packet): void => void s.write(mqttPacket.generate(packet, { protocolVersion: 5 }));
    parser.on("error", () => s.destroy());
    parser.on("packet", (p: mqttPacket.Packet) => {
      if (p.cmd === "connect") send({ cmd: "connack", sessionPresent: false, reasonCode: 0 });
      else if (p.cmd === "subscribe") {
        send({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map((x) => x.qos) });
        for (const sub of p.subscriptions) send({ cmd: "publish", topic: sub.topic, payload: command, qos: 0, retain: false, dup: false });
      } else if (p.cmd === "publish" && p.qos === 1) send({ cmd: "puback", messageId: p.messageId, reasonCode: 0 });
      else if (p.cmd === "pingreq") send({ cmd: "pingresp" });
      else if (p.cmd === "disconnect") s.end();
    });
    s.on("data", (d: Buffer) => parser.parse(d));
  });
  const port = await listenOnLoopback(server, "mqtt 5 responder");
  return {
    host: "127.0.0.1",
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
