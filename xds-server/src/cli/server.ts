// How the commands that read a running server (status, report, learn, what-if, describe,
// proxy-config) reach its HTTP side: one set of flags and one GET, so that every such command
// finds the server the same way and names it the same way in its errors.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { errorMessage, withProgress } from "../util/index.js";

export const DEFAULT_SERVER = "http://127.0.0.1:18080";

export interface ServerFlags {
  server?: string;
  tokenFile?: string;
}

/** `--server URL` and `--token-file F`, the same on every command that reads the server. */
export function addServerOptions(command: Command): Command {
  return command
    .option("--server <url>", `the server's HTTP side (default ${DEFAULT_SERVER})`)
    .option("--token-file <file>", "bearer token for a server started with --admin-token-file (https with a private CA: set NODE_EXTRA_CA_CERTS)");
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
  const base = (flags.server ?? DEFAULT_SERVER).replace(/\/+$/, "");
  const token = flags.tokenFile !== undefined ? readFileSync(flags.tokenFile, "utf8").trim() : undefined;
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
