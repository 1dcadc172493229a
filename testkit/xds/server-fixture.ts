// A real xDS server on free 127.0.0.1 ports over a temporary policy directory.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { startXdsServer, type RunningXdsServer, type XdsServerOptions } from "../../xds-server/src/server/server.js";

export const segment = (name: string, app: string, port: number, ns = "shop"): string => `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector:
    matchLabels:
      app: ${app}
  rules:
    - name: allow-${port}
      ports: [${port}]
`;

export interface Fixture {
  dir: string;
  server: RunningXdsServer;
  logs: string[];
  /** Writes a file the way editors do: to a temporary name, then renamed over. */
  write(file: string, text: string): Promise<void>;
  remove(file: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFixture(files: Record<string, string>, extra: Partial<XdsServerOptions> = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), "picoseg-xds-"));
  for (const [f, text] of Object.entries(files)) await writeFile(path.join(dir, f), text);
  const logs: string[] = [];
  const server = await startXdsServer({
    policies: dir,
    xdsPort: 0,
    httpPort: 0,
    debounceMs: 50,
    wasmPath: path.join(dir, "picoseg.wasm"),
    log: (l) => logs.push(l),
    ...extra,
  });
  return {
    dir,
    server,
    logs,
    async write(file, text) {
      const tmp = path.join(dir, `.${file}.tmp`);
      await writeFile(tmp, text);
      await rename(tmp, path.join(dir, file));
    },
    remove: (file) => rm(path.join(dir, file)),
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Anything a test opens against the server: the fake proxies. */
interface Closable {
  close(): void;
}

/** A test file's server and fake proxies: one server per test, everything closed after each. */
export interface PerTestServer {
  start(files: Record<string, string>, extra?: Partial<XdsServerOptions>): Promise<Fixture>;
  /** The running test's fixture (throws outside a test that started one). */
  readonly fx: Fixture;
  /** Closes `c` after the test. */
  track<C extends Closable>(c: C): C;
}

/** Registers the cleanup (afterEach) in the calling test file. */
export function perTestServer(): PerTestServer {
  let current: Fixture | undefined;
  const opened: Closable[] = [];
  afterEach(async () => {
    for (const c of opened.splice(0)) c.close();
    await current?.close();
    current = undefined;
  });
  return {
    async start(files, extra) {
      current = await startFixture(files, extra);
      return current;
    },
    get fx() {
      if (!current) throw new Error("no fixture: the test has not started a server");
      return current;
    },
    track(c) {
      opened.push(c);
      return c;
    },
  };
}
