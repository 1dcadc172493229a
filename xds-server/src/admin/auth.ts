// Who may read the HTTP side. Health, readiness and the module are open (probes and proxies need
// them; proxies verify the module by its sha256). Everything that shows proxies, workloads or
// policies is behind a bearer token or a verified client certificate whenever either is configured
// or the server listens beyond loopback. A browser cannot send a bearer header on navigation, so
// /ui/login trades the token for an HttpOnly cookie that carries the same token.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { ADMIN_TOKEN_COOKIE } from "../../../api/chart.js";

export const TOKEN_COOKIE = ADMIN_TOKEN_COOKIE;

export interface AdminSecurity {
  /** PEM material: serve HTTPS; with `ca`, ask clients for certificates verified against it. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Bearer token that opens the protected paths (routes.ts PROTECTED) and the console. */
  token?: string;
  /** Whether the protected paths need credentials (a token or a verified client certificate). */
  requireAuth: boolean;
}

/** A verified client certificate (mTLS), the bearer token, or the console's cookie holding it. */
export function authorized(req: IncomingMessage, security: AdminSecurity): boolean {
  if (!security.requireAuth) return true;
  if ((req.socket as Partial<TLSSocket>).authorized === true) return true;
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  return tokenMatches(m?.[1] ?? cookieToken(req), security);
}

export function tokenMatches(given: string | undefined, security: AdminSecurity): boolean {
  if (given === undefined || security.token === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(security.token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What a peer is asked with on the caller's behalf: its bearer header, or the console cookie's token as one. */
export function forwardedCredential(req: IncomingMessage): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  const token = cookieToken(req);
  return token !== undefined ? `Bearer ${token}` : undefined;
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(v.join("="));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The cookie that carries the token after a console sign-in (Secure over HTTPS). */
export function tokenCookie(token: string, security: AdminSecurity): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${security.tls ? "; Secure" : ""}`;
}
