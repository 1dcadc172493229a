// Streams refused for naming a node they may not speak for (claims.ts): logged as they happen and
// the latest kept for /status, so an operator sees a hijack attempt or a misconfigured proxy.
import type { NodeInfo } from "./node.js";
import type { Callbacks, StreamInfo, StreamRefusal } from "./server/callbacks.js";
import type { RefusedStream } from "../../../api/status.js";
import { defined } from "../util/index.js";

/** How many refused streams /status keeps. */
const RECENT_REFUSED_STREAMS = 50;

export class RefusedStreamLog implements Callbacks {
  private readonly recent: RefusedStream[] = [];

  constructor(private readonly log: (line: string) => void) {}

  onStreamRefused(stream: StreamInfo, claimed: NodeInfo, refusal: StreamRefusal): void {
    this.log(`picoseg: refused xDS stream from ${stream.peer}${stream.identity ? ` (${stream.identity})` : ""}: ${refusal.message}`);
    this.recent.push({
      at: Date.now(),
      nodeId: claimed.id,
      peer: stream.peer,
      ...defined({ identity: stream.identity }),
      claimed: claimed.workload,
      reason: refusal.reason,
      message: refusal.message,
    });
    this.recent.splice(0, Math.max(0, this.recent.length - RECENT_REFUSED_STREAMS));
  }

  /** The latest refused streams, newest last. */
  list(): RefusedStream[] {
    return [...this.recent];
  }
}
