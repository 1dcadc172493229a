// Who is who in the demo mesh: the workloads the example policies select (policies/*.yaml), where
// their sidecars listen, and the identities of the clients. Each sidecar has its own loopback
// address so the policies' ports (6379, 5432, 8080) match without colliding with local services.
import type { HostPort } from "../bootstrap/index.js";

export const TRUST_DOMAIN = "cluster.local";
const spiffe = (ns: string, sa: string): string => `spiffe://${TRUST_DOMAIN}/ns/${ns}/sa/${sa}`;

/** Client identities (SPIFFE URI SANs in their certificates). */
export const ID = {
  cart: spiffe("shop", "cart"),
  checkout: spiffe("shop", "checkout"),
  intruder: spiffe("shop", "intruder"),
  paymentsApi: spiffe("payments", "payments-api"),
  dashboard: spiffe("analytics", "dashboard"),
} as const;

export type IdentityName = keyof typeof ID;

/** "shop/cart" for a table cell. */
export function shortIdentity(principal: string): string {
  const m = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
  return m ? `${m[1]}/${m[2]}` : principal;
}

export type ServiceKind = "resp" | "postgres" | "http";

export interface WorkloadSpec {
  /** Sidecar name, used in the table and file names. */
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  listen: HostPort;
  extraPorts?: number[];
  service: ServiceKind;
  /** One line for the printout: what this sidecar shows. */
  about: string;
}

export const WORKLOADS: readonly WorkloadSpec[] = [
  {
    name: "cart-cache",
    namespace: "shop",
    labels: { app: "cart-cache", tier: "cache" },
    listen: { host: "127.0.0.2", port: 6379 },
    // A pod's sidecar captures every inbound port; 16379 (Redis' cluster bus) is not in the segment.
    extraPorts: [16379],
    service: "resp",
    about: "segment shop/cart-cache (enforce): cart and checkout, RESP only, port 6379",
  },
  {
    name: "payments-db",
    namespace: "payments",
    labels: { app: "payments-db", "picoseg.io/data-class": "pci" },
    listen: { host: "127.0.0.3", port: 5432 },
    service: "postgres",
    about: "segment payments/payments-db (enforce): payments-api, Postgres, Berlin office hours",
  },
  {
    name: "reporting-api",
    namespace: "analytics",
    // Health data behind an audit-only segment: the compliance report's finding to show.
    labels: { app: "reporting-api", "picoseg.io/data-class": "phi" },
    listen: { host: "127.0.0.4", port: 8080 },
    service: "http",
    about: "segment analytics/reporting-api (audit): would-deny is logged and counted, never closed",
  },
  {
    name: "reporting-canary",
    namespace: "analytics",
    labels: { app: "reporting-api", track: "canary", "picoseg.io/data-class": "phi" },
    // The app team tightens the audit segment for its canary pod: enforce, and 8 KiB per read.
    annotations: { "picoseg.io/mode": "enforce", "picoseg.io/max-message-bytes": "8Ki" },
    listen: { host: "127.0.0.5", port: 8080 },
    service: "http",
    about: "same segment, pod annotations picoseg.io/mode=enforce, picoseg.io/max-message-bytes=8Ki",
  },
  {
    name: "inventory",
    namespace: "shop",
    labels: { app: "inventory" },
    listen: { host: "127.0.0.6", port: 8080 },
    service: "http",
    about: "no segment yet: step 5 learns one from its traffic (learning mode), then enforces it",
  },
];

/** Every loopback address the demo listens on (they go into the server certificate's IP SANs). */
export const DEMO_IPS = ["127.0.0.1", ...new Set(WORKLOADS.map((w) => w.listen.host))];
