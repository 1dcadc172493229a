// Free loopback ports chosen at run time (xds-server/src/util/ports.ts: bind :0, read, release).
import { freeLoopbackPort } from "../../xds-server/src/util/ports.js";

export function freePort(): Promise<number> {
  return freeLoopbackPort();
}

/** n distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
