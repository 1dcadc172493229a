// Who can reach the server and how it proves itself: the TLS material and the admin token read from
// their files, and whether a listening address is loopback (the only place plaintext is safe).
import { readFileSync } from "node:fs";

/** TLS for both sides (gRPC and HTTP); with `clientCaFile`, clients must present a certificate (mTLS). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** The client CA: present means mTLS. */
  ca?: Buffer;
}

export function readTls(files: TlsFiles | undefined): TlsMaterial | undefined {
  if (!files) return undefined;
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.clientCaFile !== undefined ? { ca: readFileSync(files.clientCaFile) } : {}),
  };
}

/** The bearer token that opens /status and /metrics; an empty file is refused, not taken as "no token". */
export function readAdminToken(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const token = readFileSync(file, "utf8").trim();
  if (token === "") throw new Error(`--admin-token-file ${file}: empty`);
  return token;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** Plaintext is for the loopback demo; anywhere else anyone who reaches the port can pose as any proxy. */
export function plaintextWarning(host: string, tls: boolean): string | undefined {
  if (tls || isLoopback(host)) return undefined;
  return `xDS and HTTP are plaintext and unauthenticated on ${host}: any client can claim any workload; give --tls-cert/--tls-key and --client-ca`;
}
