// mTLS material generated at test time: a CA, a server certificate for 127.0.0.1/localhost, and
// client certificates whose identity is a SPIFFE URI SAN, as Istio issues them.
// node-forge builds the X.509 structures (it writes URI SANs, which Node's crypto cannot); the RSA
// keys come from Node's native generator, since pure-JS key generation takes seconds.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface MtlsMaterial {
  dir: string;
  caPem: string;
  caFile: string;
  server: CertAndKey & { certFile: string; keyFile: string };
  /** Client certificates by SPIFFE principal. */
  clients: Map<string, CertAndKey>;
  cleanup(): void;
}

function rsaKeys(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const priv = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { publicKey: pub, privateKey: priv, keyPem };
}

function baseCert(pub: forge.pki.PublicKey, cn: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = "01" + randomBytes(8).toString("hex"); // positive
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: "commonName", value: cn }]);
  return cert;
}

/** Writes a CA, a server cert and one client cert per principal into a fresh temp dir. */
export function generateMtls(principals: string[]): MtlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), "picoseg-it-certs-"));

  const ca = rsaKeys();
  const caCert = baseCert(ca.publicKey, "picoseg test CA");
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());
  const caPem = forge.pki.certificateToPem(caCert);

  const issue = (cn: string, altNames: Array<Record<string, unknown>>, usage: "serverAuth" | "clientAuth"): CertAndKey => {
    const k = rsaKeys();
    const cert = baseCert(k.publicKey, cn);
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: usage === "serverAuth", clientAuth: usage === "clientAuth" },
      { name: "subjectAltName", altNames },
      { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(ca.privateKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: k.keyPem };
  };

  // altName types (RFC 5280 GeneralName): 2 dNSName, 6 uniformResourceIdentifier, 7 iPAddress.
  const server = issue("localhost", [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }], "serverAuth");
  const clients = new Map<string, CertAndKey>();
  for (const p of principals) clients.set(p, issue(p.split("/").pop() ?? "client", [{ type: 6, value: p }], "clientAuth"));

  const caFile = join(dir, "ca.pem");
  const certFile = join(dir, "server.pem");
  const keyFile = join(dir, "server-key.pem");
  writeFileSync(caFile, caPem);
  writeFileSync(certFile, server.certPem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  return {
    dir,
    caPem,
    caFile,
    server: { ...server, certFile, keyFile },
    clients,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
