#!/usr/bin/env node
// The CLI is TypeScript compiled by `npm run build` (run by `npm ci` through `prepare`).
import { existsSync } from "node:fs";

const main = new URL("../dist/xds-server/src/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("picoseg: this checkout is not built; run `npm ci` in it (it installs Envoy and builds the filter and the CLI)");
  process.exit(1);
}
const { main: run } = await import(main.href);
run(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
