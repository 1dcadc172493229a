// Counters, defined once per root context: picoseg.allowed, picoseg.denied.<reason>, picoseg.audit.<reason>.
import { defineCounter, incrementCounter } from "./hostcalls";
import { REASONS, REASON_COUNT } from "./reasons";

export class Metrics {
  allowed: u32;
  denied: StaticArray<u32> = new StaticArray<u32>(REASON_COUNT);
  audit: StaticArray<u32> = new StaticArray<u32>(REASON_COUNT);
  /** picoseg.persource.evicted: a live per-source window dropped to make room in its rule's table. */
  evictions: u32;

  constructor() {
    this.allowed = defineCounter("picoseg.allowed");
    this.evictions = defineCounter("picoseg.persource.evicted");
    for (let i = 0; i < REASON_COUNT; i++) {
      this.denied[i] = defineCounter("picoseg.denied." + REASONS[i]);
      this.audit[i] = defineCounter("picoseg.audit." + REASONS[i]);
    }
  }

  countEviction(): void {
    incrementCounter(this.evictions);
  }

  countAllowed(): void {
    incrementCounter(this.allowed);
  }

  countDecision(reason: i32, audit: bool): void {
    if (reason < 0 || reason >= REASON_COUNT) return;
    incrementCounter(audit ? this.audit[reason] : this.denied[reason]);
  }
}
