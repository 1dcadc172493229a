// Certificates for a local mesh: a CA, server certificates (DNS and IP SANs) and client
// certificates whose identity is a SPIFFE URI SAN, as Istio issues them.
// node-forge builds the X.509 structures (it writes URI SANs, which Node's crypto cannot); the RSA
// keys come from Node's native generator, since pure-JS key generation takes seconds.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends CertAndKey {
  /** Internal: the parsed CA, to sign with. */
  readonly cert: forge.pki.Certificate;
  readonly privateKey: forge.pki.rsa.PrivateKey;
}

export interface LeafOptions {
  commonName: string;
  /** URI SANs, e.g. spiffe://cluster.local/ns/shop/sa/cart. */
  uris?: string[];
  dnsNames?: string[];
  ips?: string[];
  /** "workload": both, as a mesh CA issues a workload's certificate (it serves and it calls). */
  usage: "server" | "client" | "workload";
  validHours?: number;
}

function rsaKeys(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const priv = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { publicKey: pub, privateKey: priv, keyPem };
}

function baseCert(pub: forge.pki.PublicKey, cn: string, validHours: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = "01" + randomBytes(8).toString("hex"); // leading 01: always positive
  const now = Date.now();
  // An hour of slack before now: clocks of the peers may differ a little.
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + validHours * 60 * 60 * 1000);
  cert.setSubject([{ name: "commonName", value: cn }]);
  return cert;
}

/** A self-signed CA (RSA 2048, SHA-256). */
export function createCa(commonName = "picoseg local CA", validHours = 24 * 7): CertificateAuthority {
  const k = rsaKeys();
  const cert = baseCert(k.publicKey, commonName, validHours);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(k.privateKey, forge.md.sha256.create());
  return { cert, privateKey: k.privateKey, certPem: forge.pki.certificateToPem(cert), keyPem: k.keyPem };
}

/** A leaf certificate signed by ca. */
export function issueCertificate(ca: CertificateAuthority, opts: LeafOptions): CertAndKey {
  const k = rsaKeys();
  const cert = baseCert(k.publicKey, opts.commonName, opts.validHours ?? 24 * 7);
  cert.setIssuer(ca.cert.subject.attributes);
  // GeneralName types (RFC 5280): 2 dNSName, 6 uniformResourceIdentifier, 7 iPAddress.
  const altNames: Array<Record<string, unknown>> = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(opts.uris ?? []).map((value) => ({ type: 6, value })),
    ...(opts.ips ?? []).map((ip) => {
      if (isIP(ip) === 0) throw new Error(`pki: not an IP address: ${ip}`);
      return { type: 7, ip };
    }),
  ];
  const extensions: Array<Record<string, unknown>> = [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: opts.usage !== "client", clientAuth: opts.usage !== "server" },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: "subjectAltName", altNames });
  cert.setExtensions(extensions);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: k.keyPem };
}

export interface CertFiles extends CertAndKey {
  certFile: string;
  keyFile: string;
}

export interface MtlsMaterial {
  dir: string;
  caPem: string;
  caFile: string;
  server: CertFiles;
  /** Client certificates by SPIFFE principal (files named after the principal's last segments). */
  clients: Map<string, CertFiles>;
  /** A listener's downstream mTLS (the bootstraps' DownstreamTls): the server files, clients checked against the CA. */
  listenerTls: { certFile: string; keyFile: string; caFile: string };
  /** What a client presenting principal's certificate needs (PEM), the CA included; throws for an unknown principal. */
  clientTls(principal: string): { certPem: string; keyPem: string; caPem: string };
  /** Removes dir (only when generateMtls created it). */
  cleanup(): void;
}

export interface MtlsOptions {
  /** Where to write the files; a fresh temp dir when omitted (and cleanup() removes it). */
  dir?: string;
  /** The server certificate's DNS SANs. Default ["localhost"]. */
  serverDnsNames?: string[];
  /** The server certificate's IP SANs. Default ["127.0.0.1"]. */
  serverIps?: string[];
  caCommonName?: string;
}

/** A file-name-safe short name for a principal: spiffe://td/ns/shop/sa/cart → shop-cart. */
export function principalFileName(principal: string): string {
  const m = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
  const name = m ? `${m[1]}-${m[2]}` : principal.replace(/^[a-z]+:\/\//, "");
  return name.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/**
 * Writes a CA (ca.pem), a server certificate (server.pem, server-key.pem) and one client
 * certificate per principal (clients/NAME.pem, clients/NAME-key.pem).
 */
export function generateMtls(principals: readonly string[], opts: MtlsOptions = {}): MtlsMaterial {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "picoseg-certs-"));
  mkdirSync(join(dir, "clients"), { recursive: true });
  const ca = createCa(opts.caCommonName);
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, ca.certPem);

  const write = (base: string, ck: CertAndKey): CertFiles => {
    const certFile = join(dir, `${base}.pem`);
    const keyFile = join(dir, `${base}-key.pem`);
    writeFileSync(certFile, ck.certPem);
    writeFileSync(keyFile, ck.keyPem, { mode: 0o600 });
    return { ...ck, certFile, keyFile };
  };

  const server = write(
    "server",
    issueCertificate(ca, {
      commonName: opts.serverDnsNames?.[0] ?? "localhost",
      dnsNames: opts.serverDnsNames ?? ["localhost"],
      ips: opts.serverIps ?? ["127.0.0.1"],
      usage: "server",
    }),
  );
  const clients = new Map<string, CertFiles>();
  for (const p of principals) {
    const cn = p.split("/").pop() || "client";
    clients.set(p, write(join("clients", principalFileName(p)), issueCertificate(ca, { commonName: cn, uris: [p], usage: "client" })));
  }
  return {
    dir,
    caPem: ca.certPem,
    caFile,
    server,
    clients,
    listenerTls: { certFile: server.certFile, keyFile: server.keyFile, caFile },
    clientTls: (principal) => {
      const c = clients.get(principal);
      if (!c) throw new Error(`no certificate for ${principal}`);
      return { certPem: c.certPem, keyPem: c.keyPem, caPem: ca.certPem };
    },
    cleanup: () => {
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
