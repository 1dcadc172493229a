// Broker-like upstreams from npm, on loopback at free ports: an MQTT broker (aedes) and a
// Postgres wire-protocol server (PGlite behind its socket server).
import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { Aedes } from "aedes";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

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
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("mqtt broker: no address");
  return {
    broker,
    host: "127.0.0.1",
    port: addr.port,
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
