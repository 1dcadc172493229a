// The check the EnvoyFilter must pass on every Envoy istiod programs: each inbound filter chain
// that carries workload traffic — it ends in tcp_proxy or http_connection_manager — runs picoseg
// right before that terminal filter.
import type { DumpedListener } from "./sidecar.js";

export const TERMINAL_FILTERS = ["envoy.filters.network.tcp_proxy", "envoy.filters.network.http_connection_manager"];

export interface InboundChain {
  listener: string;
  chain: string;
  terminal: string;
  /** mTLS terminated in this chain (Istio's ISTIO_MUTUAL) rather than plaintext or TLS passed through. */
  mtls: boolean;
  transport: string;
  port?: number;
  filters: string[];
}

export function inboundChains(listeners: DumpedListener[]): InboundChain[] {
  return listeners
    .filter((l) => l.traffic_direction === "INBOUND")
    .flatMap((l) => (l.filter_chains ?? []).map((fc) => {
      const filters = fc.filters.map((f) => f.name);
      return {
        listener: l.name,
        chain: fc.name ?? "",
        terminal: filters.at(-1) ?? "",
        mtls: fc.transport_socket?.name === "envoy.transport_sockets.tls",
        transport: fc.filter_chain_match?.transport_protocol ?? "any",
        ...(fc.filter_chain_match?.destination_port !== undefined ? { port: fc.filter_chain_match.destination_port } : {}),
        filters,
      };
    }));
}

/** The inbound chains carrying workload traffic where picoseg is not right before the terminal filter. */
export function chainsWithoutPicoseg(listeners: DumpedListener[]): InboundChain[] {
  return inboundChains(listeners).filter((c) => TERMINAL_FILTERS.includes(c.terminal) && c.filters.at(-2) !== "picoseg");
}
