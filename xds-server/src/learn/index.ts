// Learning mode: propose a segment from a workload's observed traffic, and replay that traffic
// against segments (what-if). This index is the package's public surface: other packages import it
// and nothing else of it (.dependency-cruiser.cjs).
export { fetchTraffic, type ServerGet } from "./fetch.js";
export { LEARN_DEFAULTS, LearnOptionError, parseProposeOptions, parseSince, parseWorkload } from "./options.js";
export { partialDataLines, proposalYaml, workloadProposals } from "./proposals.js";
export { type ProposeOptions, proposeSegment } from "./propose.js";
export { learningSegment } from "./segment.js";
export { trafficOf } from "./traffic.js";
export { whatIf, whatIfText } from "./whatif.js";
