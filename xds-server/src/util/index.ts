// Leaf helpers every package may use: waiting, free ports, child processes, the checkout's files,
// TLS and token files, error text. This index is the package's public surface: other packages
// import it and nothing else of it (.dependency-cruiser.cjs).
export { isLoopback, plaintextWarning, readAdminToken, readTls, type TlsFiles, type TlsMaterial } from "./exposure.js";
export { freeLoopbackPort } from "./ports.js";
export { stopProcess } from "./process.js";
export { filterWasmPath, repoRoot } from "./repo.js";
export { sleep, StopWaiting, waitFor } from "./wait.js";
export { type ProgressStream, withProgress } from "./progress.js";
export { defined, errorMessage } from "./values.js";
export { colorsFor, type Column, cut, formatTable, TABLE_WIDTH, wrap, wrapCommand } from "./table.js";
