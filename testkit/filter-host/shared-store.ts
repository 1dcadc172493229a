/** Envoy's shared data: one store per proxy, shared by every worker's VM. */
export class SharedStore {
  readonly entries = new Map<string, { value: Uint8Array; cas: number }>();
  nextCas = 1;
}
