// The workload one proxy stands for: what an Istio sidecar announces in its xDS node metadata
// (NAMESPACE, LABELS, ANNOTATIONS, SERVICE_ACCOUNT, WORKLOAD_NAME), or what the CLI is told.

/** The workload one proxy stands for (from Istio node metadata, or the CLI). */
export interface Workload {
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccount?: string;
  name?: string;
}

/** How reports, status and the console name a workload: `namespace/name`, else its `app` label. */
export function workloadName(w: Workload, fallback: string): string {
  return `${w.namespace}/${w.name ?? w.labels["app"] ?? fallback}`;
}

// A proxy's Workload object never changes (new metadata makes a new NodeInfo), and a push asks for
// every connected proxy's key: compute each object's key once, not once per proxy per push.
const workloadKeys = new WeakMap<Workload, string>();

/** Everything of a workload that compilation may read, canonically ordered. */
export function workloadKey(w: Workload): string {
  let key = workloadKeys.get(w);
  if (key === undefined) workloadKeys.set(w, (key = computeWorkloadKey(w)));
  return key;
}

function computeWorkloadKey(w: Workload): string {
  const sorted = (r: Record<string, string>): [string, string][] =>
    Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([w.namespace, sorted(w.labels), sorted(w.annotations), w.serviceAccount ?? "", w.name ?? ""]);
}
