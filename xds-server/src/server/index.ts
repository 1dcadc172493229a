// The serve command's wiring: startXdsServer builds every part and connects them, and nothing
// else. This index is the package's public surface: other packages import it and nothing else of
// it (.dependency-cruiser.cjs).
export { type RunningXdsServer, startXdsServer } from "./server.js";
