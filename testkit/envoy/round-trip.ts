// For the real-Envoy xDS tests: one TCP round trip through a sidecar, classified.
import { TcpClient } from "./index.js";

/** "allowed" when the echo comes back through the sidecar, "denied" when the sidecar closes first. */
export async function roundTrip(port: number, payload = "ping\n"): Promise<"allowed" | "denied"> {
  const c = await TcpClient.connect(port);
  try {
    await c.write(payload);
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      if (c.received().length >= payload.length) return "allowed";
      if (c.closedBy) return "denied";
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("neither echo nor close within 3 s");
  } finally {
    c.socket.destroy();
  }
}

/** Polls roundTrip() until it gives `want` (a hot update takes effect), within `ms`. */
export async function roundTripUntil(port: number, want: "allowed" | "denied", ms = 2000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const got = await roundTrip(port);
    if (got === want) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`still ${got} after ${ms} ms (wanted ${want})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
