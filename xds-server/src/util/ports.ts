// A free loopback port chosen at run time: bind :0, read the port, release it. For an Envoy
// admin address that must be known before Envoy starts (it goes into the bootstrap's node
// metadata); the short race with another process taking it is accepted.
import { createServer } from "node:net";

export function freeLoopbackPort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("freeLoopbackPort: no address"));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}
