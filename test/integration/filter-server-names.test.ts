// serverNames through the real Envoy: picoseg in front of a TLS-passthrough workload (Envoy does
// not terminate TLS), admitting by the SNI of the client's ClientHello. The upstream is a real
// TLS server; an admitted client completes its handshake end to end and gets an answer.
import { once } from "node:events";
import { rmSync } from "node:fs";
import { createServer, connect as tlsConnect, type Server, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterEnv, compileSegments, generateMtls, segment, type MtlsMaterial } from "../../testkit/envoy/harness.js";

let env: FilterEnv;
let certs: MtlsMaterial;
let server: Server;
let serverPort: number;

beforeAll(async () => {
  certs = generateMtls([], { serverDnsNames: ["api.plant1.example", "meter-7.devices.example", "evil.example"] });
  server = createServer({ cert: certs.server.certPem, key: certs.server.keyPem }, (s) => s.end(`hello ${s.servername ?? "?"}\n`));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  serverPort = (server.address() as { port: number }).port;
  env = await FilterEnv.start([{
    name: "passthrough",
    target: { host: "127.0.0.1", port: serverPort },
    config: () => compileSegments([segment("edge", { rules: [
      { name: "api", from: { serverNames: ["api.plant1.example"] }, protocols: ["tls"] },
      { name: "devices", from: { serverNames: ["*.devices.example"] }, protocols: ["tls"] },
    ] })]),
  }]);
}, 60_000);

afterAll(async () => {
  await env?.stop();
  server?.close();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

/** A TLS client asking for `servername` through Envoy: the server's answer, or how it failed. */
async function ask(servername: string): Promise<string> {
  const s: TLSSocket = tlsConnect({ host: "127.0.0.1", port: env.port("passthrough"), servername, ca: certs.caPem });
  let data = "";
  s.on("data", (d: Buffer) => (data += d.toString()));
  return new Promise((resolve) => {
    s.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    s.on("close", () => resolve(data));
  });
}

describe("serverNames in front of TLS passthrough", () => {
  it.each([
    ["api.plant1.example", "api"],
    ["meter-7.devices.example", "devices"],
  ])("%s: admitted by rule %s, the handshake completes with the real server", async (name) => {
    const before = await env.snapshot();
    expect(await ask(name)).toBe(`hello ${name}\n`);
    await env.expectCounterDelta(before, "picoseg.allowed", 1);
  });

  it("evil.example: closed with source before the server sees a byte of it", async () => {
    let accepted = 0;
    const count = (): void => void accepted++;
    server.on("secureConnection", count);
    const before = await env.snapshot();
    expect(await ask("evil.example")).toMatch(/^error |^$/);
    await env.expectCounterDelta(before, "picoseg.denied.source", 1);
    const d = await env.envoy.waitForDecision((x) => x.picoseg === "deny" && x.reason === "source", 3000, before.decisions);
    expect(d.port).toBe(env.port("passthrough")); // no rule's `from` matched: the line names none
    expect(accepted).toBe(0);
    server.removeListener("secureConnection", count);
  });
});
