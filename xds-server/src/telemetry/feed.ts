// The console's live feed of denied attempts: each accepted report that carries denials becomes
// one server-sent event (`event: denials`) to every open /decisions/live stream, the latest ones
// replayed to a new subscriber. As live as the filters' report interval (5 s by default). A
// subscriber that stops reading is cut off once MAX_BUFFERED bytes wait for it: the server's
// memory does not follow a stalled browser tab.
import type { ServerResponse } from "node:http";
import type { DeniedAttempt, ProxyReport } from "../../../api/report.js";
import { deniedAttempts } from "./denials.js";

export interface DenialEvent {
  workload: string;
  node: string;
  /** The interval the filter reported (its clock, ms). */
  from: number;
  to: number;
  denials: DeniedAttempt[];
}

const REPLAY = 50;
const KEEPALIVE_MS = 15_000;
/** Bytes written to one subscriber and not yet taken by its socket, past which it is dropped. */
export const MAX_BUFFERED = 1 << 20;

export class DenialFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly recent: DenialEvent[] = [];
  private readonly keepalive: NodeJS.Timeout;

  constructor() {
    // A comment line now and then keeps proxies and browsers from closing an idle stream.
    this.keepalive = setInterval(() => this.send(":\n\n"), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  publish(workload: string, report: ProxyReport): void {
    if (report.denials.length === 0) return;
    const denials = deniedAttempts([{ at: report.to, node: report.node, workload, labels: {}, report }]);
    const event: DenialEvent = { workload, node: report.node, from: report.from, to: report.to, denials };
    this.recent.push(event);
    this.recent.splice(0, Math.max(0, this.recent.length - REPLAY));
    this.send(sseFrame(event));
  }

  /** Subscribers now. */
  get size(): number {
    return this.clients.size;
  }

  private send(frame: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED) {
        this.clients.delete(res);
        res.destroy();
      } else {
        res.write(frame);
      }
    }
  }

  /** Turns an HTTP response into an event stream of denied attempts (the latest replayed first). */
  attach(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
    res.write(": picoseg denied attempts\n\n"); // sends the headers now: the stream is open before any event
    for (const e of this.recent) res.write(sseFrame(e));
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

function sseFrame(e: DenialEvent): string {
  return `event: denials\ndata: ${JSON.stringify(e)}\n\n`;
}
