// Runs the picoseg CLI from its TypeScript sources (node --import tsx testkit/cli/run.ts …), so
// CLI tests do not depend on a fresh `npm run build`.
import { main } from "../../xds-server/src/cli/main.js";
import { errorMessage } from "../../xds-server/src/util/index.js";

main(process.argv).catch((err: unknown) => {
  console.error(errorMessage(err));
  process.exit(1);
});
