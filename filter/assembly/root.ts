// Root contexts: each holds one plugin configuration and the table of its live connections.
// The stages (admission.ts, datapath.ts, tick.ts) decide; dispatch.ts finds the root of a
// callback here by context id.
import { RootContext } from "@solo-io/proxy-runtime/runtime";
import { Config, Rule } from "./config";
import { parseConfig } from "./configparse";
import { Conn } from "./connection";
import { refreshLogLevel, wouldLog } from "./decisionlog";
import { readPluginName } from "./facts";
import { BUF_PLUGIN_CONFIG, LOG_ERROR, hostGetBuffer, hostLen, hostLog, hostPtr, lastClockMs, releaseHost, setTickPeriod } from "./hostcalls";
import { learnConfigure } from "./learning";
import { Metrics } from "./metrics";
import { perSourceRelease } from "./sharedrecords";

const TICK_MS: u32 = 500;
/** Conn.root of a connection created under no known root context: it fails closed. */
export const NO_ROOT: u32 = 0xffffffff;

/**
 * Highest-generation configuration parsed per plugin_name: what other root contexts of the
 * same plugin re-check their live connections against (tick.ts). Several filter instances may
 * share a plugin_name and a VM with different configurations (two listeners), so only a
 * strictly greater `generation` marks a configuration as a newer version of another.
 */
export const newestByPlugin = new Map<string, Config>();

export class PicosegRoot extends RootContext {
  /** Index in `roots`, which connections keep (Conn.root). */
  slot: u32 = 0;
  cfg: Config | null = null;
  /** The configuration replaced in place, while its connections are re-bound or revoked by the next tick. */
  prevCfg: Config | null = null;
  /** Newest plugin configuration the live connections were last checked against. */
  checkedCfg: Config | null = null;
  pluginName: string = "";
  metrics: Metrics;
  /** First of the live connections, an intrusive list (Conn.prev/next) walked by the tick. */
  head: usize = 0;
  live: u32 = 0;
  deleted: bool = false;

  constructor(id: u32) {
    super(id);
    this.metrics = new Metrics();
  }

  configure(size: u32): void {
    refreshLogLevel();
    let cfg: Config;
    if (size == 0 || !hostGetBuffer(BUF_PLUGIN_CONFIG, 0, size)) {
      cfg = parseConfig(0, 0);
    } else {
      cfg = parseConfig(hostPtr, hostLen);
      releaseHost();
    }
    if (!cfg.valid && wouldLog(LOG_ERROR)) {
      hostLog(LOG_ERROR, "picoseg: configuration rejected, denying every connection (no-config): " + cfg.error);
    }
    this.pluginName = readPluginName();
    learnConfigure(cfg.valid ? cfg.observeCluster : "", cfg.observeIntervalMs, cfg.observeCapacity, cfg.observeDenialsOnly);
    if (this.live > 0 && this.cfg !== null) this.prevCfg = this.cfg;
    else this.checkedCfg = cfg;
    this.cfg = cfg;
    let known = newestByPlugin.has(this.pluginName) ? newestByPlugin.get(this.pluginName) : null;
    if (known === null || cfg.generation >= known.generation) newestByPlugin.set(this.pluginName, cfg);
    setTickPeriod(TICK_MS);
  }

  link(c: Conn): void {
    c.root = this.slot;
    c.next = this.head;
    if (this.head != 0) changetype<Conn>(this.head).prev = changetype<usize>(c);
    this.head = changetype<usize>(c);
    this.live++;
  }

  unlink(c: Conn): void {
    if (c.prev != 0) changetype<Conn>(c.prev).next = c.next;
    else if (this.head == changetype<usize>(c)) this.head = c.next;
    if (c.next != 0) changetype<Conn>(c.next).prev = c.prev;
    c.prev = 0;
    c.next = 0;
    if (this.live > 0) this.live--;
  }

  /** The configuration c's rule index refers to: the current one, or the one replaced in place. */
  cfgOf(c: Conn): Config | null {
    let cfg = this.cfg;
    if (cfg !== null && cfg.id == c.cfgId) return cfg;
    let prev = this.prevCfg;
    if (prev !== null && prev.id == c.cfgId) return prev;
    return null;
  }

  /**
   * Gives the connection's unspent per-source lease back to the shared record. The time is the
   * clock as last read (by this VM's last callback or tick, never before the read that granted
   * the lease), not a host call: it only tells whether the lease's window is still the record's.
   * If that window has in fact ended meanwhile, the lease goes back to an expired record, which
   * every later reader (with its own clock) replaces with a fresh window: no decision changes.
   */
  releaseLease(c: Conn): void {
    if (c.lease == 0 || c.psKey == 0) return;
    let r = ruleIn(this.cfgOf(c), c);
    if (r !== null) perSourceRelease(c.psKey, r as Rule, c.lease, c.leaseWindow, lastClockMs());
    c.lease = 0;
  }
}

/** c's governing rule in cfg, its own configuration (cfgOf); null when it has none or it is gone. */
export function ruleIn(cfg: Config | null, c: Conn): Rule | null {
  if (c.rule < 0 || cfg === null) return null;
  let rules = (cfg as Config).rules;
  return c.rule < rules.length ? rules[c.rule] : null;
}

// ---- the root contexts of this VM, by slot ----

const roots = new Array<PicosegRoot | null>();

export function rootById(id: u32): PicosegRoot | null {
  for (let i = 0; i < roots.length; i++) {
    let r = roots[i];
    if (r !== null && r.context_id == id) return r;
  }
  return null;
}

export function rootAt(slot: u32): PicosegRoot | null {
  if (slot >= <u32>roots.length) return null;
  return roots[slot];
}

export function createRoot(id: u32): void {
  if (rootById(id) !== null) return;
  let slot = -1;
  for (let i = 0; i < roots.length; i++) if (roots[i] === null) { slot = i; break; }
  if (slot < 0) { slot = roots.length; roots.push(null); }
  let r = new PicosegRoot(id);
  r.slot = <u32>slot;
  roots[slot] = r;
}

/** Frees the slot of a deleted root once its last connection is gone. */
export function dropRootIfDone(root: PicosegRoot): void {
  if (root.deleted && root.live == 0) roots[root.slot] = null;
}
