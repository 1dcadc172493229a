// How the server reaches the Kubernetes API: @kubernetes/client-node's KubeConfig, from a pod's
// service account (in-cluster), a kubeconfig file, or an explicit server + token (tests).
import { KubeConfig } from "@kubernetes/client-node";
import { defined, errorMessage } from "../util/index.js";

export const GROUP = "picoseg.io";
export const VERSION = "v1alpha1";
export const PLURAL = "picosegments";

/** Where to find the API; exactly one way. */
export type KubeAccess =
  | { kind: "in-cluster" }
  | { kind: "kubeconfig"; file: string; context?: string }
  /** KUBECONFIG, else ~/.kube/config, as kubectl finds them. */
  | { kind: "default"; context?: string }
  | { kind: "explicit"; server: string; token?: string; caPem?: string };

/**
 * A KubeConfig for the given access. In a pod the service account token file is re-read by the
 * client as it rotates (projected tokens expire).
 */
export function loadKubeConfig(access: KubeAccess): KubeConfig {
  const kc = new KubeConfig();
  switch (access.kind) {
    case "in-cluster":
      if (!process.env["KUBERNETES_SERVICE_HOST"]) throw new Error("not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)");
      kc.loadFromCluster();
      break;
    case "kubeconfig":
      try {
        kc.loadFromFile(access.file);
      } catch (err) {
        throw new Error(`kubeconfig ${access.file}: ${errorMessage(err)}`);
      }
      if (access.context !== undefined) useContext(kc, access.context, access.file);
      if (!kc.getCurrentCluster()) throw new Error(`${access.file}: no current cluster (set current-context)`);
      break;
    case "default":
      kc.loadFromDefault();
      if (access.context !== undefined) useContext(kc, access.context, "the kubeconfig");
      if (!kc.getCurrentCluster()) throw new Error("no Kubernetes cluster: no kubeconfig (KUBECONFIG, ~/.kube/config) with a current context");
      break;
    case "explicit":
      kc.loadFromOptions({
        clusters: [
          {
            name: "api",
            server: access.server,
            // client-node refuses a plain-HTTP server (`kubectl proxy`) unless this is set;
            // there is no TLS to verify then. An https server is always verified.
            skipTLSVerify: access.server.startsWith("http:"),
            ...(access.caPem !== undefined ? { caData: Buffer.from(access.caPem).toString("base64") } : {}),
          },
        ],
        users: [{ name: "user", ...defined({ token: access.token }) }],
        contexts: [{ name: "ctx", cluster: "api", user: "user" }],
        currentContext: "ctx",
      });
      break;
  }
  return kc;
}

function useContext(kc: KubeConfig, context: string, where: string): void {
  if (!kc.getContextObject(context)) throw new Error(`${where} has no context ${JSON.stringify(context)} (it has: ${kc.getContexts().map((c) => c.name).join(", ") || "none"})`);
  kc.setCurrentContext(context);
}

/** The API server's URL of a KubeConfig, for logs and status. */
export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? "";
}

/** The HTTP status code of a client-node error (ApiException carries `code`, watch errors `statusCode`). */
export function httpCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === "number") return e.code;
  if (typeof e.statusCode === "number") return e.statusCode;
  return undefined;
}

/** A short, single-line description of a client-node error. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = httpCode(err);
  const cause = (err as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? ` (${cause.message})` : "";
  return `${code !== undefined ? `HTTP ${code}: ` : ""}${err.message.split("\n")[0]}${causeText}`;
}
