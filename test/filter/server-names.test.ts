// serverName: admission by the SNI of a real ClientHello (Node's TLS client), read by the filter
// in front of a TLS-passthrough workload. The client's bytes are held until the record is whole.
import { connect as tlsConnect } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { record, until } from "../wire/capture.js";
import { config, hostWith, oneRule } from "./helpers.js";

const hello = new Map<string, Buffer>();

async function clientHello(servername: string | undefined): Promise<Buffer> {
  const relay = await record();
  const s = tlsConnect({ host: "127.0.0.1", port: relay.port, ...(servername ? { servername } : {}) });
  s.on("error", () => {});
  await until(() => {
    const b = relay.fromClient();
    return b.length >= 5 && b.length >= 5 + b.readUInt16BE(3);
  }, 5000, "ClientHello");
  s.destroy();
  const bytes = relay.fromClient();
  await relay.close();
  return bytes;
}

beforeAll(async () => {
  hello.set("api", await clientHello("api.plant1.example"));
  hello.set("device", await clientHello("Meter-7.Devices.Example"));
  hello.set("other", await clientHello("evil.example"));
  hello.set("none", await clientHello(undefined));
}, 30_000);

const rules = config(
  "segment ns/tls enforce",
  "rule api", "serverName api.plant1.example", "port 8443 8443",
  "rule devices", "serverName *.devices.example",
);

describe("serverName", () => {
  it.each([
    ["api", "api"],
    ["device", "devices"],
  ])("a ClientHello for %s is admitted by rule %s, and its bytes go through whole", async (name, rule) => {
    const host = await hostWith(rules, { logLevel: "debug" });
    const c = host.connect({ port: 8443 });
    expect(c.fromClient(hello.get(name)!)).toBe(0);
    expect(c.closed).toBe(false);
    expect(Buffer.from(c.deliveredToServer).equals(hello.get(name)!)).toBe(true);
    expect(c.decisions().find((d) => d.picoseg === "allow")?.rule).toBe(rule);
  });

  it("a name no rule lists, or no name at all, is `source`, and none of its bytes pass", async () => {
    for (const name of ["other", "none"]) {
      const host = await hostWith(rules);
      const c = host.connect({ port: 8443 });
      c.fromClient(hello.get(name)!);
      expect(c.closeReason, name).toBe("source");
      expect(c.deliveredToServer.length).toBe(0);
    }
  });

  it("the ClientHello split anywhere is held until its record is whole, then judged", async () => {
    const bytes = hello.get("api")!;
    for (const cut of [1, 5, 40, bytes.length - 1]) {
      const host = await hostWith(rules);
      const c = host.connect({ port: 8443 });
      expect(c.fromClient(bytes.subarray(0, cut)), `cut ${cut}`).toBe(1);
      expect(c.deliveredToServer.length).toBe(0);
      expect(c.fromClient(bytes.subarray(cut)), `cut ${cut}`).toBe(0);
      expect(Buffer.from(c.deliveredToServer).equals(bytes)).toBe(true);
    }
  });

  it("plaintext has no server name: a rule with serverName never admits it, a later rule without one may", async () => {
    // On port 81 only `any`'s `from` matches, and its port does not: `port`, not `source`.
    const host = await hostWith(config("segment ns/s enforce", "rule tls", "serverName api.plant1.example", "rule any", "port 80 80"));
    const c = host.connect({ port: 80 });
    expect(c.fromClient("GET / HTTP/1.1\r\n\r\n")).toBe(0);
    expect(c.closed).toBe(false);
    const d = host.connect({ port: 81 });
    d.fromClient("GET / HTTP/1.1\r\n\r\n");
    expect(d.closeReason).toBe("port");
  });

  it("a client that sends nothing is judged without a server name 5 s after accept; server bytes wait until then", async () => {
    const host = await hostWith(config("segment ns/s enforce", "rule tls", "serverName api.plant1.example", "rule any", "port 25 25"));
    const quiet = host.connect({ port: 25 });
    quiet.fromServer("220 mail.example ESMTP\r\n"); // a server-first protocol
    expect(quiet.deliveredToClient.length).toBe(0);
    host.advance(4900);
    expect(quiet.closed).toBe(false);
    expect(host.counter("picoseg.allowed")).toBe(0);
    host.advance(200);
    expect(host.counter("picoseg.allowed")).toBe(1); // rule `any`: no server name needed
    const other = host.connect({ port: 26 });
    host.advance(5600); // 5 s, to the next tick (every 500 ms)
    expect(other.closeReason).toBe("port");
  });

  it("the rule still requires its other fields: a matching name on another port is `port`", async () => {
    const host = await hostWith(oneRule("serverName api.plant1.example", "port 8443 8443"));
    const c = host.connect({ port: 9443 });
    c.fromClient(hello.get("api")!);
    expect(c.closeReason).toBe("port");
  });
});
