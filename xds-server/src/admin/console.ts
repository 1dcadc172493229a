// The console's static files: the page, its script and style from xds-server/console/ (the
// project's own files, no build step), and uPlot from node_modules, served by this server (no
// CDN: the console works where the server has no Internet and leaks nothing to third parties).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { repoRoot } from "../util/index.js";

/** Scripts, styles and data from this server only; no inline script; never framed. */
export const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const consoleDir = (): string => path.join(repoRoot(), "xds-server", "console");

const uplotDist = (): string => path.join(path.dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist");

const FILES: Record<string, { file: () => string; type: string }> = {
  "/ui": { file: () => path.join(consoleDir(), "index.html"), type: "text/html; charset=utf-8" },
  "/ui/console.js": { file: () => path.join(consoleDir(), "console.js"), type: "text/javascript; charset=utf-8" },
  "/ui/console.css": { file: () => path.join(consoleDir(), "console.css"), type: "text/css; charset=utf-8" },
  "/ui/vendor/uPlot.iife.min.js": { file: () => path.join(uplotDist(), "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/ui/vendor/uPlot.min.css": { file: () => path.join(uplotDist(), "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

const cache = new Map<string, Buffer>();

/** The file behind a console path, or undefined (404). Read once, then kept. */
export function consoleAsset(pathname: string): { type: string; body: Buffer } | undefined {
  const f = FILES[pathname === "/ui/" ? "/ui" : pathname];
  if (!f) return undefined;
  let body = cache.get(pathname);
  if (!body) {
    body = readFileSync(f.file());
    cache.set(pathname, body);
  }
  return { type: f.type, body };
}

/** The token form; a browser cannot send a bearer header when it navigates. */
export function loginPage(error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>picoseg console: sign in</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/console.css"></head>
<body><main class="login"><h1>picoseg console</h1>${error ? `<p class="error">${error}</p>` : ""}
<form method="post" action="/ui/login"><label>Admin token <input type="password" name="token" autocomplete="current-password" required autofocus></label> <button type="submit">Sign in</button></form>
<p class="note">The token of <code>--admin-token-file</code>; with <code>--client-ca</code>, a client certificate signs you in instead.</p></main></body></html>
`;
}

/** Headers of every console answer: its CSP, no sniffing, no caching. */
export const CONSOLE_HEADERS = { "content-security-policy": CONSOLE_CSP, "x-content-type-options": "nosniff", "cache-control": "no-store" };
