// node-postgres (pg), the real client, over a demo connection: the scenario's mTLS socket to
// the payments database's sidecar carries pg's own StartupMessage, queries and replies, so the
// sidecar's filter frames a real Postgres session (framing postgres).
import type { Duplex } from "node:stream";
import pg from "pg";
import type { DemoConnection } from "./client.js";
import { errorMessage } from "../util/index.js";

/**
 * pg connects the stream it is given: the demo's socket is already connected (mTLS done), so
 * its connect() only tells pg so. pg listens for errors itself; the demo connection still sees
 * every byte and how the connection ends.
 */
function alreadyConnected(conn: DemoConnection): () => Duplex {
  return () => {
    const socket = conn.socket;
    socket.connect = ((): typeof socket => {
      setImmediate(() => socket.emit("connect"));
      return socket;
    }) as typeof socket.connect;
    return socket;
  };
}

/**
 * Runs `sql` with `params` as `user` over conn. The answer's first row, or the error pg saw (a
 * connection the sidecar closed ends as "Connection terminated unexpectedly"). The client is not
 * ended: the scenario judges the connection as it stands, then closes it.
 */
export async function pgQuery(conn: DemoConnection, user: string, sql: string, params: unknown[] = []): Promise<{ row?: Record<string, unknown>; error?: string }> {
  const client = new pg.Client({ stream: alreadyConnected(conn), user, database: "postgres", connectionTimeoutMillis: 3000, query_timeout: 5000 });
  client.on("error", () => {}); // the sidecar may close it: reported by connect()/query() below
  try {
    await client.connect();
    const result = await client.query(sql, params);
    return { row: (result.rows[0] ?? {}) as Record<string, unknown> };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}
