// Compliance evidence: per regulated workload, the segments and rules that govern it, the proxies
// that enforce them, and what they denied. This index is the package's public surface: other
// packages import it and nothing else of it (.dependency-cruiser.cjs).
export { reportHtml, reportSummary, reportText } from "./render.js";
export { buildReport, type ComplianceReport, describeWorkloads, isRegime, type WorkloadReport } from "./report.js";
