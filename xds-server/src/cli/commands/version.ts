import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { defaultWasmPath, readModule } from "../../push/index.js";
import { repoRoot } from "../../util/index.js";
import { addOutputOption, printData } from "../output.js";

export interface VersionInfo {
  picoseg: string;
  node: string;
  /** The filter module the server serves by default; absent when it is not built. */
  filter?: { path: string; sha256: string };
  /** The Envoy release the tests run (package.json config.envoyServer, what `npm ci` installs). */
  envoyTested: string;
}

export function versionInfo(): VersionInfo {
  const root = repoRoot();
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; config: { envoyServer: string } };
  const wasm = defaultWasmPath();
  const module = readModule(wasm, false);
  return {
    picoseg: pkg.version,
    node: process.versions.node,
    ...(module ? { filter: { path: wasm, sha256: module.sha256 } } : {}),
    envoyTested: pkg.config.envoyServer,
  };
}

function versionText(v: VersionInfo): string {
  return [
    `picoseg ${v.picoseg} (node ${v.node})`,
    v.filter ? `filter  sha256:${v.filter.sha256}` : "filter  not built (npm run build)",
    `envoy   ${v.envoyTested} (the release picoseg is tested with)`,
  ].join("\n") + "\n";
}

/** `picoseg --version` (text) and `picoseg version -o json|yaml`. */
export function registerVersion(program: Command): void {
  program.option("-V, --version", "the version, the filter module's sha256 and the Envoy it is tested with");
  program.on("option:version", () => {
    process.stdout.write(versionText(versionInfo()));
    process.exit(0);
  });
  const command = program.command("version").description("the version, the filter module's sha256 and the Envoy it is tested with");
  addOutputOption(command).action((flags: { output: string }) => {
    const info = versionInfo();
    printData(flags.output, info, () => versionText(info));
  });
}
