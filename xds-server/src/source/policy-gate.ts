// Between a policy source and the proxies: which published state is put in force. A state with
// fewer segments than --min-segments is held back (the previous one stays); a valid state that
// loosens a segment, or leaves no segment at all, is served but reported. Refusals and notices are
// kept (bounded) for /status and told to the gate's observers (the server's metrics, the audit
// trail), which live above this package and so are handed in.
import type { PolicyNotice, Refusal } from "../../../api/status.js";
import { loosenings } from "./loosened.js";
import type { PolicyState } from "./types.js";

/** How many refusals and notices /status keeps. */
export const RECENT_REFUSALS = 50;

/** What the gate tells its observers, as it happens; an observer implements what it records. */
export interface PolicyGateObserver {
  /** Every state the source publishes, with the refusals that are new in it. */
  onOffered?(state: PolicyState, fresh: readonly Refusal[]): void;
  /** A valid state not put in force (the previous one stays), and why. */
  onHeld?(state: PolicyState, why: string): void;
  /** The state now in force, and the loosenings it brings. */
  onApplied?(state: PolicyState, loosened: readonly string[]): void;
  onNotice?(notice: PolicyNotice): void;
}

export interface PolicyGateOptions {
  /** Refuse a state with fewer segments (e.g. every file deleted). Default 0. */
  minSegments?: number;
  observers?: readonly PolicyGateObserver[];
  log: (line: string) => void;
  /** Puts a state in force (the proxies' configs follow it). */
  serve: (state: PolicyState) => void;
}

export class PolicyGate {
  /** The state proxies are served from; a held state (--min-segments) leaves it in place. */
  private applied: PolicyState | undefined;
  private readonly recent: Refusal[] = [];
  private readonly notices: PolicyNotice[] = [];
  private readonly minSegments: number;

  constructor(private readonly opts: PolicyGateOptions) {
    this.minSegments = opts.minSegments ?? 0;
  }

  /** Ready once some state is in force. */
  get ready(): boolean {
    return this.applied !== undefined;
  }

  get inForce(): PolicyState | undefined {
    return this.applied;
  }

  /** The latest refusals, standing or since fixed, newest last. */
  recentRefusals(): Refusal[] {
    return [...this.recent];
  }

  policyNotices(): PolicyNotice[] {
    return [...this.notices];
  }

  /** A state the source published, with the refusals that are new in it. */
  offer(state: PolicyState, fresh: readonly Refusal[]): void {
    const { log, observers = [] } = this.opts;
    for (const r of fresh) log(`picoseg: refused ${r.text} (previous state of the file stays in force)`);
    this.recent.push(...fresh);
    this.recent.splice(0, Math.max(0, this.recent.length - RECENT_REFUSALS));
    for (const o of observers) o.onOffered?.(state, fresh);
    if (state.segments.length < this.minSegments) {
      this.notice(
        "below-min-segments",
        `refused a state with ${state.segments.length} segments (--min-segments ${this.minSegments}); ${this.applied ? "the previous state stays in force" : "not ready until there are enough"}`,
      );
      for (const o of observers) o.onHeld?.(state, `fewer than --min-segments ${this.minSegments}`);
      return;
    }
    const loosened = loosenings(this.applied?.segments ?? [], state.segments);
    for (const text of loosened) this.notice("loosened", text);
    if (state.segments.length === 0 && (this.applied === undefined || this.applied.segments.length > 0)) {
      this.notice("no-segments", "no segments: every selected workload now denies");
    }
    this.applied = state;
    for (const o of observers) o.onApplied?.(state, loosened);
    this.opts.serve(state);
  }

  private notice(kind: PolicyNotice["kind"], text: string): void {
    this.opts.log(`picoseg: ${text}`);
    const notice: PolicyNotice = { at: Date.now(), kind, text };
    this.notices.push(notice);
    this.notices.splice(0, Math.max(0, this.notices.length - RECENT_REFUSALS));
    for (const o of this.opts.observers ?? []) o.onNotice?.(notice);
  }
}
