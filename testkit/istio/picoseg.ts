// The real `picoseg serve`, as a process of its own (so a test can kill it and start it again on
// the same ports), run as istio-manifests/xds-server.yaml runs it: the module's bytes inside each
// filter config, xDS over mTLS (a server certificate from the mesh CA, proxies' SPIFFE IDs checked
// against their node metadata), and /status behind an admin token.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../xds-server/src/util/index.js";
import { issueCertificate, type CertificateAuthority } from "../../xds-server/src/demo/pki.js";
import { stopProcess } from "../../xds-server/src/util/process.js";
import { waitFor } from "../../xds-server/src/util/wait.js";
import type { ProxyStatus, StatusReport } from "../../api/status.js";

/** The name the EnvoyFilter's cluster checks the server's certificate for (its SNI and SAN). */
export const SERVER_NAME = "picoseg-xds.picoseg-system.svc";

export class PicosegServe {
  private child: ChildProcess | undefined;
  private logText = "";
  private readonly dir = mkdtempSync(join(tmpdir(), "picoseg-serve-"));
  private readonly token = randomBytes(16).toString("hex");

  constructor(
    readonly policies: string,
    readonly xdsPort: number,
    readonly httpPort: number,
    private readonly ca: CertificateAuthority,
  ) {
    const cert = issueCertificate(ca, { commonName: "picoseg-xds", dnsNames: [SERVER_NAME, `${SERVER_NAME}.cluster.local`], usage: "server" });
    writeFileSync(join(this.dir, "tls.crt"), cert.certPem);
    writeFileSync(join(this.dir, "tls.key"), cert.keyPem);
    writeFileSync(join(this.dir, "root-cert.pem"), ca.certPem);
    writeFileSync(join(this.dir, "token"), `${this.token}\n`);
  }

  /** Starts the server and waits for /readyz. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [
      "--import", "tsx", join(repoRoot(), "testkit/cli/run.ts"),
      "serve", "--policies", this.policies,
      "--xds-port", String(this.xdsPort), "--http-port", String(this.httpPort),
      "--inline-wasm",
      "--tls-cert", join(this.dir, "tls.crt"), "--tls-key", join(this.dir, "tls.key"),
      "--client-ca", join(this.dir, "root-cert.pem"), "--admin-token-file", join(this.dir, "token"),
    ], { cwd: repoRoot(), stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    child.stdout?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    child.stderr?.on("data", (d: Buffer) => (this.logText += d.toString("utf8")));
    await waitFor("picoseg serve /readyz", async () => {
      if (child.exitCode !== null) throw new Error(`picoseg serve exited\n${this.logText.slice(-3000)}`);
      return (await this.get("/readyz").catch(() => undefined))?.status === 200 ? true : undefined;
    }, 30_000, 100);
  }

  /** The proxies connected to it (its /status, with the admin token). */
  async proxies(): Promise<ProxyStatus[]> {
    const r = await this.get("/status");
    if (r.status !== 200) throw new Error(`/status: ${r.status} ${r.text}`);
    return (JSON.parse(r.text) as StatusReport).proxies;
  }

  /** A GET on the HTTPS side, trusting the mesh CA, with the admin token. */
  get(path: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: "127.0.0.1", port: this.httpPort, path, servername: SERVER_NAME, ca: this.ca.certPem,
        headers: { authorization: `Bearer ${this.token}` }, timeout: 5000,
      }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("timeout", () => req.destroy(new Error(`GET ${path}: timed out`)));
      req.on("error", reject);
      req.end();
    });
  }

  log(): string {
    return this.logText;
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, 5000);
    this.child = undefined;
  }

  /** stop() and remove the certificates. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
