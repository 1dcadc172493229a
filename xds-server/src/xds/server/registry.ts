// The live streams of a server, so that a shutdown can drain them: on SIGTERM a replica stops
// taking streams and ends the ones it has a few at a time, each with UNAVAILABLE, so that its
// proxies reconnect to another replica spread over the drain period instead of all at once
// (each keeps its last config meanwhile).
import * as grpc from "@grpc/grpc-js";

export interface Drainable {
  /** Ends the stream with a status the client sees. */
  fail(code: grpc.status, message: string): void;
}

export class StreamRegistry {
  private readonly live = new Set<Drainable>();
  private drainingSince: number | undefined;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  get size(): number {
    return this.live.size;
  }

  add(s: Drainable): void {
    this.live.add(s);
  }

  remove(s: Drainable): void {
    this.live.delete(s);
  }

  /** Refuses new streams from now on and ends the live ones evenly over `spreadMs`. */
  async drain(spreadMs: number): Promise<void> {
    this.drainingSince ??= Date.now();
    const streams = [...this.live];
    const step = streams.length > 0 ? spreadMs / streams.length : 0;
    for (let i = 0; i < streams.length; i++) {
      // The first one goes after one step too: a proxy reconnecting at once would find the
      // Service's endpoints not yet updated and come straight back.
      await new Promise((r) => setTimeout(r, step));
      streams[i]!.fail(grpc.status.UNAVAILABLE, "picoseg server draining (shutting down); reconnect to another replica");
    }
  }
}
