// Runs hold-release.as in the real Envoy (the project's .venv Envoy, through the integration harness)
// and prints what it shows. Not a test file: `npx tsx testkit/envoy/fact-filters/hold-release.ts` (one Envoy at a
// time). Evidence for filter/README.md "Envoy facts" and the emulator's model (testkit/filter-host/).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { staticBootstrap } from "../../../xds-server/src/bootstrap/index.js";
import { repoRoot } from "../../../xds-server/src/util/index.js";
import { Envoy, TcpClient, Upstream, freePorts, generateMtls, mysqlGreeting, sleep, stopAllEnvoys } from "../harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "picoseg-hold-probe-"));
copyFileSync(join(here, "hold-release.as"), join(dir, "hold.ts"));
const wasm = join(dir, "hold.wasm");
execFileSync(join(repoRoot(), "node_modules", ".bin", "asc"), ["hold.ts", "--runtime", "stub", "-O3", "--use", "abort=", "--binaryFile", wasm], { cwd: dir, stdio: "pipe" });

const API = "spiffe://cluster.local/ns/payments/sa/api";
const certs = generateMtls([API]);
const tls = { certFile: certs.server.certFile, keyFile: certs.server.keyFile, caFile: certs.caFile };
const greeting = mysqlGreeting();
const ups = await Promise.all([0, 1, 2].map(() => Upstream.start({ greeting, echo: false })));
const [pc, pw, ps] = (await freePorts(3)) as [number, number, number];
const envoy = await Envoy.start(staticBootstrap({
  admin: { host: "127.0.0.1", port: 0 }, wasm: { filename: wasm, vmId: "probe" }, configuration: "",
  listeners: [
    { listen: { host: "127.0.0.1", port: pc }, upstream: { host: "127.0.0.1", port: ups[0]!.port }, vmId: "c", configuration: "c" },
    { listen: { host: "127.0.0.1", port: pw }, upstream: { host: "127.0.0.1", port: ups[1]!.port }, vmId: "w", configuration: "w" },
    { listen: { host: "127.0.0.1", port: ps }, upstream: { host: "127.0.0.1", port: ups[2]!.port }, vmId: "s", configuration: "s", tls, upstreamConnect: "immediate" },
  ],
}), { concurrency: 1 });
const stats = async (): Promise<string> =>
  (await envoy.adminText("/stats?filter=csprobe")).split("\n").filter((l) => l !== "" && !l.endsWith(": 0")).join("; ");
try {
  for (const [what, port] of [["continue_stream(3) then (2) from the tick", pc], ["watermark toggle from the tick", pw]] as const) {
    const t0 = Date.now();
    const c = await TcpClient.connect(port);
    let at = "never (3 s)";
    try { await c.waitForBytes(greeting.length, 3000); at = `${Date.now() - t0} ms`; } catch { /* not released */ }
    await sleep(300);
    console.log(`${what}: held ${greeting.length}-byte greeting reached the client after ${at}; client has ${c.received().length} bytes`);
    c.destroy();
    await sleep(300);
    console.log(`  counters: ${await stats()}`);
  }
  for (let i = 0; i < 2; i++) {
    const t0 = Date.now();
    const c = await TcpClient.connect(ps, { tls: { ...certs.clients.get(API)!, caPem: certs.caPem } });
    const hs = Date.now() - t0;
    await c.waitForBytes(greeting.length, 3000);
    console.log(`StopIteration at accept (mTLS, tcp_proxy IMMEDIATE), continue_stream(2) at the 3rd tick: handshake done after ${hs} ms, greeting after ${Date.now() - t0} ms`);
    c.destroy();
  }
} finally {
  await envoy.stop();
  await stopAllEnvoys();
  for (const u of ups) await u.stop();
  certs.cleanup();
  rmSync(dir, { recursive: true, force: true });
}
