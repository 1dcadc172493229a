// Free loopback ports for processes started by tests and benchmarks, picked below the kernel's
// ephemeral range. A port found by binding :0 comes from that range, and once released any
// outgoing connection (of Envoy, a client, another test file) may take it as its local port;
// a listener that binds it later then fails with "address already in use" (seen when a test
// restarts an Envoy on the ports it had). Below the range only explicit binds compete: a port
// is drawn at random and checked by binding it.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux), else the IANA default. */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > LOWEST + 1_000) return first;
  } catch {
    // not Linux: fall through
  }
  return 49_152;
}

const HIGHEST = ephemeralStart() - 1;

function tryBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await tryBind(port)) return port;
  }
  throw new Error(`freePort: no free port in ${LOWEST}-${HIGHEST} after 200 tries`);
}

/** n distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
