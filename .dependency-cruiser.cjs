// The direction of the code, checked over its import graph by `npm run check:arch` (part of
// `npm test`): an import against it fails the build. docs/architecture.md draws the same picture.
//
// xds-server/src is a set of packages, each a folder with an index.ts; a package imports only the
// packages below it (PACKAGES lists each one's allowed imports) and only through their index.ts.
// api/ holds the contracts and imports nothing of ours; the product never imports the test kit,
// the tests or the benchmarks.

/** Each package of xds-server/src and the packages it may import (api/ is open to all). */
const PACKAGES = {
  util: [],
  policy: ["util"],
  source: ["util", "policy"],
  xds: ["util"],
  push: ["util", "policy", "xds"],
  telemetry: ["util", "policy", "xds"],
  audit: ["util", "policy", "source", "xds", "telemetry"],
  learn: ["util", "policy", "telemetry"],
  compliance: ["util", "policy", "telemetry"],
  kube: ["util", "policy", "source"],
  bootstrap: ["util"],
  admin: ["util", "policy", "source", "xds", "push", "telemetry", "learn", "compliance"],
  server: ["util", "policy", "source", "xds", "push", "telemetry", "audit", "learn", "compliance", "admin"],
  demo: ["util", "policy", "source", "xds", "push", "telemetry", "learn", "compliance", "bootstrap", "server"],
  cli: ["util", "policy", "source", "xds", "push", "telemetry", "audit", "learn", "compliance", "kube", "bootstrap", "admin", "server", "demo"],
};
const names = Object.keys(PACKAGES);
const src = "^xds-server/src/";

const packageRules = names.map((pkg) => ({
  name: `${pkg}-imports-only-below`,
  comment: `xds-server/src/${pkg} may import ${PACKAGES[pkg].join(", ") || "no other package"} (and api/)`,
  severity: "error",
  from: { path: `${src}${pkg}/` },
  to: { path: `${src}(${names.filter((n) => n !== pkg && !PACKAGES[pkg].includes(n)).join("|")})/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "every-file-in-a-package",
      comment: "xds-server/src holds packages only: every file is in a package folder listed in PACKAGES",
      severity: "error",
      from: { path: `${src}[^/]+$` },
      to: {},
    },
    {
      name: "unknown-package",
      severity: "error",
      from: { path: src, pathNot: `${src}(${names.join("|")})/` },
      to: {},
    },
    ...packageRules,
    {
      name: "through-the-index",
      comment: "another package is imported through its index.ts, its public surface",
      severity: "error",
      from: { path: `${src}([^/]+)/` },
      to: { path: src, pathNot: [`${src}$1/`, `${src}[^/]+/index\\.ts$`] },
    },
    {
      name: "api-imports-nothing-of-ours",
      severity: "error",
      from: { path: "^api/" },
      to: { path: "^(xds-server|testkit|test|bench|filter|scripts)/" },
    },
    {
      name: "product-never-imports-tests",
      severity: "error",
      from: { path: "^(api|xds-server)/" },
      to: { path: "^(testkit|test|bench)/" },
    },
    {
      name: "testkit-never-imports-tests",
      severity: "error",
      from: { path: "^testkit/" },
      to: { path: "^(test|bench)/" },
    },
    {
      name: "no-cycles",
      comment: "no import cycle at run time anywhere, the filter's AssemblyScript included (a type-only import is erased)",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "no-unresolvable",
      comment: "the filter's imports of the proxy-wasm SDK resolve through asc, not Node",
      severity: "error",
      from: { pathNot: "^filter/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist|build|\\.cache|\\.tmp)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.test.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
