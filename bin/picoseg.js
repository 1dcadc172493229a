#!/usr/bin/env node
// The CLI is TypeScript compiled by `npm run build` (run by `npm ci` through `prepare`).
import { main } from "../dist/xds-server/src/cli/main.js";

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
