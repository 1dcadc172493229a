// Authenticated xDS: TLS and mTLS on the gRPC side, node metadata bound to the client
// certificate's SPIFFE ID (spiffe://TD/ns/NS/sa/SA may only speak for workloads of namespace NS
// and service account SA), and the HTTP side's /status and /metrics behind a bearer token or mTLS.
import { request } from "node:https";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateMtls, type MtlsMaterial } from "../../xds-server/src/demo/pki.js";
import { plaintextWarning } from "../../xds-server/src/util/exposure.js";
import { SotwEnvoy, sotwConfigs } from "../../testkit/xds/fake-envoy.js";
import { segment, startFixture, type Fixture } from "../../testkit/xds/server-fixture.js";

const DB = "spiffe://cluster.local/ns/shop/sa/db";
const STRANGER = "spiffe://cluster.local/ns/analytics/sa/etl";
const TOKEN = "s3cret-admin-token";

let pki: MtlsMaterial;
let fx: Fixture | undefined;
const clients: SotwEnvoy[] = [];
beforeAll(() => {
  pki = generateMtls([DB, STRANGER]);
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx?.close();
  fx = undefined;
});

const mtlsCreds = (principal: string): grpc.ChannelCredentials => {
  const t = pki.clientTls(principal);
  return grpc.credentials.createSsl(Buffer.from(t.caPem), Buffer.from(t.keyPem), Buffer.from(t.certPem));
};
const failure = (p: Promise<unknown>): Promise<{ code?: number; details?: string } | undefined> =>
  p.then(
    () => undefined,
    (x: unknown) => x as { code?: number; details?: string },
  );

async function startTls(): Promise<Fixture> {
  const tokenFile = path.join(pki.dir, "admin-token");
  await writeFile(tokenFile, `${TOKEN}\n`);
  return startFixture(
    { "db.yaml": segment("db", "db", 5432) },
    { tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile }, adminTokenFile: tokenFile },
  );
}

/** GET over HTTPS trusting the test CA, optionally with a client certificate or a bearer token. */
function get(url: string, opts: { principal?: string; token?: string } = {}): Promise<{ status: number; text: string }> {
  const client = opts.principal ? pki.clientTls(opts.principal) : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: pki.caPem,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("mTLS xDS bound to the SPIFFE ID", () => {
  it("serves a proxy whose certificate names its namespace and service account", async () => {
    fx = await startTls();
    const e = new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "db-1", namespace: "shop", serviceAccount: "db", labels: { app: "db" } }, mtlsCreds(DB));
    clients.push(e);
    e.subscribe(["picoseg"]);
    expect(sotwConfigs(await e.inbox.next())[0]!.configuration).toContain("segment shop/db");
    expect(fx.server.status().proxies[0]!.streams[0]!.identity).toBe(DB);
  });

  it("refuses metadata claiming another namespace or service account than the certificate (PERMISSION_DENIED)", async () => {
    fx = await startTls();
    const claims = [
      { id: "x-1", namespace: "shop", serviceAccount: "db", labels: { app: "db" } }, // stranger's cert, db's metadata
      { id: "x-2", namespace: "analytics", serviceAccount: "other", labels: { app: "db" } },
      { id: "x-3", namespace: "analytics", labels: { app: "db" } }, // no SERVICE_ACCOUNT at all
    ];
    for (const node of claims) {
      const e = new SotwEnvoy(fx.server.xdsAddress, "ads", node, mtlsCreds(STRANGER));
      clients.push(e);
      e.subscribe(["picoseg"]);
      const err = await failure(e.inbox.next());
      expect(err?.code).toBe(7); // PERMISSION_DENIED
      expect(err?.details).toMatch(/spiffe:\/\/cluster\.local\/ns\/analytics\/sa\/etl may only speak for namespace analytics, service account etl/);
    }
    const st = fx.server.status();
    expect(st.proxies).toEqual([]);
    expect(st.refusedStreams.map((r) => r.reason)).toEqual(["identity-mismatch", "identity-mismatch", "identity-mismatch"]);
    expect(st.refusedStreams[0]!.identity).toBe(STRANGER);
  });

  it("refuses a client without a certificate, and a plaintext client", async () => {
    fx = await startTls();
    const noCert = new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "n-1", namespace: "shop", labels: { app: "db" } },
      grpc.credentials.createSsl(Buffer.from(pki.caPem)));
    const plain = new SotwEnvoy(fx.server.xdsAddress, "ads", { id: "n-2", namespace: "shop", labels: { app: "db" } });
    clients.push(noCert, plain);
    for (const c of [noCert, plain]) {
      c.subscribe(["picoseg"]);
      expect((await failure(c.inbox.next(8000)))?.code).toBe(14); // UNAVAILABLE: no handshake
    }
    expect(fx.server.status().proxies).toEqual([]);
  });
});

describe("the HTTP side under TLS", () => {
  it("keeps /healthz, /readyz and the module open; /status and /metrics need the bearer token or a client certificate", async () => {
    fx = await startTls();
    const base = fx.server.httpUrl;
    expect(base.startsWith("https://")).toBe(true);
    expect((await get(`${base}/healthz`)).status).toBe(200);
    expect((await get(`${base}/readyz`)).status).toBe(200);
    for (const p of ["/status", "/metrics"]) {
      const anon = await get(`${base}${p}`);
      expect(anon.status).toBe(401);
      expect(anon.text).toMatch(/bearer token or a client certificate/);
      expect((await get(`${base}${p}`, { token: "wrong" })).status).toBe(401);
      expect((await get(`${base}${p}`, { token: TOKEN })).status).toBe(200);
      expect((await get(`${base}${p}`, { principal: DB })).status).toBe(200);
    }
    // No module in the fixture's directory: the route answers (404), it is not behind the token.
    expect((await get(`${base}/filter/picoseg.wasm`)).status).toBe(404);
  });
});

describe("plaintext", () => {
  it("is allowed on loopback; bound elsewhere it comes with a warning", () => {
    expect(plaintextWarning("127.0.0.1", false)).toBeUndefined();
    expect(plaintextWarning("::1", false)).toBeUndefined();
    expect(plaintextWarning("localhost", false)).toBeUndefined();
    expect(plaintextWarning("0.0.0.0", false)).toMatch(/plaintext and unauthenticated on 0\.0\.0\.0.*--tls-cert/);
    expect(plaintextWarning("0.0.0.0", true)).toBeUndefined();
  });
});
