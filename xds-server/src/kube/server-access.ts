// A picoseg server found from the kube context, as istioctl finds istiod: its pods by the chart's
// labels, its HTTP side through the API server's service proxy
// (/api/v1/namespaces/NS/services/SCHEME:picoseg-xds:http/proxy/PATH), and the admin token from
// the chart's Secret when the caller may read it. Every request carries the caller's own kube
// credentials; the API server's RBAC decides (get pods, get services/proxy, get the Secret).
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { ADMIN_TOKEN_COOKIE, ADMIN_TOKEN_SECRET, SERVER_HTTP_PORT_NAME, SERVER_POD_LABELS, SERVER_SERVICE } from "../../../api/chart.js";
import { errorMessage } from "../util/index.js";
import { serverOf } from "./client.js";

export interface ClusterServer {
  /** For messages: the context's API server, the namespace and the pods found. */
  readonly target: string;
  readonly pods: string[];
  /** Whether the server's HTTP side is HTTPS (its pods run `serve --tls-cert`). */
  readonly tls: boolean;
  /** GET a path of the server's HTTP side through the service proxy; the body of a 2xx answer. */
  get(path: string, timeoutMs?: number): Promise<string>;
  /** The admin token from the chart's Secret; undefined with the reason when it cannot be read. */
  adminToken(): Promise<{ token?: string; refused?: string }>;
  /** Sends this admin token with every later get. */
  useToken(token: string): void;
}

interface ApiAnswer {
  status: number;
  text: string;
}

/** GET `path` of the API server with the context's credentials. */
async function apiGet(kc: KubeConfig, path: string, headers: Record<string, string>, timeoutMs: number): Promise<ApiAnswer> {
  const url = new URL(path, serverOf(kc));
  const opts: https.RequestOptions = { method: "GET", headers: { accept: "application/json", ...headers }, timeout: timeoutMs };
  await kc.applyToHTTPSOptions(opts); // the context's CA, client certificate or token
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** The API's own message of a refusal (a Status object), else the text. */
function statusMessage(a: ApiAnswer): string {
  try {
    const s = JSON.parse(a.text) as { message?: string };
    if (typeof s.message === "string") return s.message;
  } catch {
    // not a Status
  }
  return a.text.trim().slice(0, 300);
}

/** Finds the server in `namespace` of the context; throws naming what was looked for and why it failed. */
export async function findClusterServer(kc: KubeConfig, namespace: string, command: string): Promise<ClusterServer> {
  const api = serverOf(kc);
  const selector = Object.entries(SERVER_POD_LABELS).map(([k, v]) => `${k}=${v}`).join(",");
  const where = `${namespace} (context ${kc.getCurrentContext()}, ${api})`;
  let listed: ApiAnswer;
  try {
    listed = await apiGet(kc, `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`, {}, 10_000);
  } catch (err) {
    throw new Error(`${command}: cannot reach the API server ${api}: ${errorMessage(err)}`);
  }
  if (listed.status !== 200) throw new Error(`${command}: cannot list the picoseg server's pods in ${where}: HTTP ${listed.status}: ${statusMessage(listed)}`);
  const pods = (JSON.parse(listed.text) as { items: Array<{ metadata: { name: string }; spec: { containers: Array<{ args?: string[] }> } }> }).items;
  if (pods.length === 0) throw new Error(`${command}: no picoseg server in ${where}: no pod labelled ${selector} (installed with the chart? another namespace: --server-namespace)`);
  const tls = pods.some((p) => p.spec.containers.some((c) => (c.args ?? []).includes("--tls-cert")));
  const proxy = `/api/v1/namespaces/${namespace}/services/${tls ? "https" : "http"}:${SERVER_SERVICE}:${SERVER_HTTP_PORT_NAME}/proxy`;
  let token: string | undefined;
  return {
    target: `service ${namespace}/${SERVER_SERVICE} through ${api}`,
    pods: pods.map((p) => p.metadata.name),
    tls,
    async get(path, timeoutMs = 10_000) {
      let a: ApiAnswer;
      // The API server takes the Authorization header for itself; the admin token rides in the
      // cookie the server's console also accepts.
      const headers: Record<string, string> = token !== undefined ? { cookie: `${ADMIN_TOKEN_COOKIE}=${encodeURIComponent(token)}` } : {};
      try {
        a = await apiGet(kc, `${proxy}${path}`, headers, timeoutMs);
      } catch (err) {
        throw new Error(`${command}: cannot reach ${proxy}${path} on ${api}: ${errorMessage(err)}`);
      }
      if (a.status < 200 || a.status >= 300) throw new Error(`${command}: ${proxy}${path}: HTTP ${a.status}: ${statusMessage(a)}`);
      return a.text;
    },
    async adminToken() {
      const a = await apiGet(kc, `/api/v1/namespaces/${namespace}/secrets/${ADMIN_TOKEN_SECRET}`, {}, 10_000);
      if (a.status !== 200) return { refused: `cannot read Secret ${namespace}/${ADMIN_TOKEN_SECRET}: HTTP ${a.status}: ${statusMessage(a)}` };
      const data = (JSON.parse(a.text) as { data?: Record<string, string> }).data ?? {};
      if (data["token"] === undefined) return { refused: `Secret ${namespace}/${ADMIN_TOKEN_SECRET} has no key token` };
      return { token: Buffer.from(data["token"], "base64").toString("utf8").trim() };
    },
    useToken(t) {
      token = t;
    },
  };
}
