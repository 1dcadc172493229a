/** The filter's metrics, under the ids proxy_define_metric hands out (1, 2, … in definition order). */
export class Metrics {
  private readonly ids = new Map<string, number>();
  private readonly values = new Map<number, number>();

  /** The id of `name`, defining it at 0 the first time (a redefinition keeps its id and value). */
  define(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(name, id);
      this.values.set(id, 0);
    }
    return id;
  }

  has(id: number): boolean {
    return this.values.has(id);
  }

  value(id: number): number {
    return this.values.get(id) ?? 0;
  }

  /** Adds `by` to a defined metric. */
  increment(id: number, by: number): void {
    this.values.set(id, this.value(id) + by);
  }

  record(id: number, value: number): void {
    this.values.set(id, value);
  }

  /** A counter's value; throws when the filter never defined it (so a typo cannot pass as 0). */
  counter(name: string): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`metric ${name} is not defined; defined: ${[...this.ids.keys()].join(", ")}`);
    return this.value(id);
  }

  names(): string[] {
    return [...this.ids.keys()];
  }
}
