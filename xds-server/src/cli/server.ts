// How the commands that read a running server (status, report, learn, what-if, describe,
// proxy-config) reach its HTTP side: one set of flags and one GET, so that every such command
// finds the server the same way and names it the same way in its errors. Either a URL
// (--server), or the cluster of the kube context, as istioctl finds istiod: the server's pods by
// the chart's labels, its HTTP side through the API server, its admin token from the chart's
// Secret when the caller may read it.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { CHART_NAMESPACE } from "../../../api/chart.js";
import { defined, errorMessage, withProgress } from "../util/index.js";

export const DEFAULT_SERVER = "http://127.0.0.1:18080";

export interface ServerFlags {
  server?: string;
  tokenFile?: string;
  kubeconfig?: string;
  context?: string;
  serverNamespace?: string;
}

/** The flags every command that reads the server takes, the same everywhere. */
export function addServerOptions(command: Command): Command {
  return command
    .option("--server <url>", `the server's HTTP side, directly (default: the kube context's server, else ${DEFAULT_SERVER})`)
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file (https with a private CA: set NODE_EXTRA_CA_CERTS)")
    .option("--kubeconfig <file>", "reach the server in this kubeconfig's cluster (default: KUBECONFIG, ~/.kube/config)")
    .option("--context <name>", "the kubeconfig context (default: the current context)")
    .option("--server-namespace <ns>", "the namespace the server is installed in", CHART_NAMESPACE);
}

/** Whether the flags (or a kubeconfig kubectl would use) point at a cluster rather than a URL. */
function viaCluster(flags: ServerFlags): boolean {
  if (flags.server !== undefined) return false;
  if (flags.kubeconfig !== undefined || flags.context !== undefined) return true;
  return Boolean(process.env["KUBECONFIG"]) || existsSync(join(homedir(), ".kube", "config"));
}

/** The server of the kube context, through the API server; the admin token from its Secret unless --token-file. */
async function connectThroughCluster(command: string, flags: ServerFlags, token: string | undefined): Promise<ServerConnection> {
  // Loaded only here: the Kubernetes client costs most of a command's start-up.
  const { findClusterServer, loadKubeConfig } = await import("../kube/index.js");
  const kc = loadKubeConfig(
    flags.kubeconfig !== undefined ? { kind: "kubeconfig", file: flags.kubeconfig, ...defined({ context: flags.context }) } : { kind: "default", ...defined({ context: flags.context }) },
  );
  const server = await findClusterServer(kc, flags.serverNamespace ?? CHART_NAMESPACE, command);
  if (token === undefined) {
    const secret = await server.adminToken();
    if (secret.token !== undefined) token = secret.token;
    else process.stderr.write(`${command}: ${secret.refused}; going on without the admin token (--token-file gives one)\n`);
  }
  if (token !== undefined) server.useToken(token);
  return {
    target: server.target,
    get: (path, timeoutMs) => withProgress(`${command}: waiting for ${server.target}`, server.get(path, timeoutMs)),
    close() {},
  };
}

/** A way to GET paths of one server's HTTP side; errors name the command and the URL. */
export interface ServerConnection {
  /** What the connection goes to, for messages. */
  readonly target: string;
  /** The body of a 2xx answer to GET `path` (e.g. "/status"); anything else throws. */
  get(path: string, timeoutMs?: number): Promise<string>;
  /** Releases what the connection holds. */
  close(): void;
}

/** The connection `flags` name. */
export async function connect(command: string, flags: ServerFlags): Promise<ServerConnection> {
  const token = flags.tokenFile !== undefined ? readFileSync(flags.tokenFile, "utf8").trim() : undefined;
  if (viaCluster(flags)) return connectThroughCluster(command, flags, token);
  const base = (flags.server ?? DEFAULT_SERVER).replace(/\/+$/, "");
  return {
    target: base,
    async get(path, timeoutMs = 10_000) {
      const url = `${base}${path}`;
      let res: Response;
      let text: string;
      try {
        // A proposal over a large store takes the server a while: say so on a terminal.
        [res, text] = await withProgress(`${command}: waiting for ${url}`, (async () => {
          const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
          return [r, await r.text()] as const;
        })());
      } catch (err) {
        throw new Error(`${command}: cannot reach ${url}: ${errorMessage(err)}`);
      }
      if (!res.ok) throw new Error(`${command}: ${url}: HTTP ${res.status}: ${text.trim()}`);
      return text;
    },
    close() {},
  };
}

/** GET `path` as JSON, closing the connection afterwards. */
export async function getJson<T>(command: string, flags: ServerFlags, path: string): Promise<T> {
  const conn = await connect(command, flags);
  try {
    return JSON.parse(await conn.get(path)) as T;
  } finally {
    conn.close();
  }
}
