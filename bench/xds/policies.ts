// The policies of the xDS push benchmarks (run.ts, compare.ts): every client is selected by the
// shared segment, which each round edits (a new port, so every client's config changes), and
// by its own app's segment.

export const sharedSegment = (round: number): string => `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: shared, namespace: bench }
spec:
  selector: { matchLabels: { tier: bench } }
  rules:
    - name: round-${round}
      ports: [${10000 + round}]
`;

export const appSegment = (i: number): string => `apiVersion: picoseg.io/v1alpha1
kind: PicoSegment
metadata: { name: app-${i}, namespace: bench }
spec:
  selector: { matchLabels: { app: app-${i} } }
  rules:
    - name: db
      ports: [5432]
      limits: { maxBytesIn: ${i + 1}Mi }
`;

/** The labels of client i: the shared tier and one of `workloads` apps. */
export const clientLabels = (i: number, workloads: number): Record<string, string> => ({ tier: "bench", app: `app-${i % workloads}` });
