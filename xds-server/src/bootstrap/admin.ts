// Reading a running Envoy through its admin API: the address it chose (--admin-address-path),
// whether it is LIVE with its listeners up, and its stats. The demo's sidecars, the sidecar command
// and the integration harness all read Envoy this way.
import { existsSync, readFileSync } from "node:fs";
import { waitFor } from "../util/index.js";

/** The admin address ("IP:PORT") Envoy wrote to its --admin-address-path; undefined until it has. */
export function readAdminAddress(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  return readFileSync(path, "utf8").trim() || undefined;
}

/** Ports of the listeners Envoy has active (/listeners). */
export async function activeListenerPorts(adminUrl: string, timeoutMs = 5000): Promise<number[]> {
  const r = await fetch(`${adminUrl}/listeners?format=json`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await r.json()) as {
    listener_statuses?: Array<{ local_address?: { socket_address?: { port_value?: number } } }>;
  };
  return (body.listener_statuses ?? [])
    .map((l) => l.local_address?.socket_address?.port_value)
    .filter((p): p is number => typeof p === "number");
}

export interface WaitReadyOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Prefixed to what the wait is for, e.g. the sidecar's name. */
  label?: string;
  /** Throws when Envoy has gone (a StopWaiting ends the wait at once). */
  assertRunning?: () => void;
}

/** Waits until /ready answers LIVE and every given port has an active listener. */
export async function waitEnvoyReady(adminUrl: string, listenerPorts: readonly number[], opts: WaitReadyOptions): Promise<void> {
  const prefix = opts.label ? `${opts.label}: ` : "";
  await waitFor(`${prefix}Envoy /ready LIVE`, async () => {
    opts.assertRunning?.();
    const r = await fetch(`${adminUrl}/ready`, { signal: AbortSignal.timeout(2000) });
    await r.text();
    return r.status === 200 ? true : undefined;
  }, opts.timeoutMs, opts.intervalMs);
  await waitFor(`${prefix}listeners on ${listenerPorts.join(", ")}`, async () => {
    opts.assertRunning?.();
    const up = await activeListenerPorts(adminUrl);
    return listenerPorts.every((p) => up.includes(p)) ? true : undefined;
  }, opts.timeoutMs, opts.intervalMs);
}

/**
 * Envoy's /stats text as name → value, one entry per `name: value` line (histogram lines skipped).
 * Wasm-defined metrics keep Envoy's `wasmcustom.` prefix here.
 */
export function parseStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\S+): (\d+)$/.exec(line);
    if (m && m[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** Counters and gauges whose name matches the regex (`/stats?filter=`), name → value. */
export async function fetchStats(adminUrl: string, filter: string, timeoutMs = 5000): Promise<Map<string, number>> {
  const r = await fetch(`${adminUrl}/stats?filter=${encodeURIComponent(filter)}`, { signal: AbortSignal.timeout(timeoutMs) });
  return parseStats(await r.text());
}
