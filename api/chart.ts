// What the Helm chart (istio-manifests/chart/) names, which the CLI relies on to find a server
// from the kube context: the server pods' labels, the Service and its HTTP port's name, and the
// Secrets holding the admin token and the TLS material.

export const CHART_NAMESPACE = "picoseg-system";
/** Labels every server pod carries (app.kubernetes.io recommended labels). */
export const SERVER_POD_LABELS = { "app.kubernetes.io/name": "picoseg", "app.kubernetes.io/component": "xds-server" } as const;
export const SERVER_SERVICE = "picoseg-xds";
/** The Service's port for the HTTP side (18080; HTTPS when TLS is on). */
export const SERVER_HTTP_PORT_NAME = "http";
/** Key `token`: the bearer token of the protected HTTP paths. */
export const ADMIN_TOKEN_SECRET = "picoseg-admin-token";
/** Keys `tls.crt`, `tls.key`, `ca.crt`. */
export const SERVER_TLS_SECRET = "picoseg-xds-tls";

/**
 * The cookie the HTTP side also takes the admin token in (the console's sign-in). The CLI sends
 * it through the API server's proxy, which keeps the Authorization header for itself.
 */
export const ADMIN_TOKEN_COOKIE = "picoseg_token";
