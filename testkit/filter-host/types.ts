// The emulator's option and record types.
import type { Decision } from "../../api/decision.js";
import type { Bytes } from "./bytes.js";
import type { FilterHost } from "./host.js";
import type { LogLevelName } from "./abi.js";

export interface LogEntry {
  level: number;
  message: string;
  /** The effective context when the filter logged. */
  context: number;
}

/** A decision line the filter logged (`{"picoseg": ...}`): the same type the demo and the harness read. */
export type DecisionLine = Decision;

export interface StartOptions {
  /** The plugin configuration string; null or omitted = none (the filter must deny with no-config). */
  config?: Bytes | null;
  wasmPath?: string;
  /** The host's log level (what proxy_get_log_level answers). Default info. */
  logLevel?: LogLevelName;
  pluginName?: string;
  rootId?: string;
  /** Start of the clock, ms since the Unix epoch. */
  nowMs?: number;
  /**
   * Another host whose shared data this one uses: two hosts are then two Envoy
   * worker threads (two VMs) of one proxy.
   */
  shareWith?: FilterHost;
  /** Envoy's per_connection_buffer_limit_bytes for the read buffers (watermarks); 0 = none. Default 1 MiB. */
  bufferLimitBytes?: number;
  /** What the `node.id` attribute answers (Envoy's node id); absent: NotFound. */
  nodeId?: string;
}

export interface ConnectOptions {
  /** Envoy's `source.address`, e.g. "10.1.2.3:40000" or "[::1]:40000"; null = absent. Default "10.1.2.3:40000". */
  source?: string | null;
  /** `destination.port`; null = absent. Default 5432. */
  port?: number | null;
  /** The peer certificate's URI SAN; sets `connection.mtls` true unless `mtls` says otherwise. */
  principal?: string | null;
  mtls?: boolean;
  /** A TLS downstream (`connection.tls_version` present). Default: true when a principal is given. */
  tls?: boolean;
  /**
   * Envoy calls proxy_on_new_connection before the TLS handshake: with "pending", the
   * principal and `connection.mtls` appear only at the first client bytes or at
   * c.completeHandshake(). Default "done" (known from the start).
   */
  handshake?: "done" | "pending";
  /** Raw property overrides by dotted path ("source.address"); null removes a property. */
  properties?: Record<string, Uint8Array | string | null>;
  root?: RootHandle;
  /** Skip proxy_on_new_connection (to drive callbacks by hand). */
  noNewConnection?: boolean;
}

export interface RootHandle {
  readonly id: number;
  readonly pluginName: string;
  /** What `plugin_root_id` answers. */
  readonly rootId: string;
  config: Uint8Array | null;
  tickPeriodMs: number;
  nextTickAt: number;
  deleted: boolean;
}
