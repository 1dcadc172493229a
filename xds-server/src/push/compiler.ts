// One workload's compiled configuration per policy state, compiled once however many proxies share
// the workload, with the `generation` the filter's revocation needs (filter/README.md
// "Revocation"): strictly increasing across changes of that workload's config, unchanged while
// the config is, and derived from when the segments changed, so that a restarted server or another
// replica computes the same bytes.
import { type Workload, workloadKey } from "../../../api/workload.js";
import type { CompiledConfig, LoadedSegment } from "../policy/index.js";

export type CompileFn = (segments: LoadedSegment[], workload: Workload, opts?: { generation?: number }) => CompiledConfig;

/** What ProxyConfigs compiles from: the segments and when each changed (source/types.ts PolicyState). */
export interface PolicyInput {
  segments: readonly LoadedSegment[];
  changedAt: ReadonlyMap<string, number>;
  changeFloor: number;
}

export class WorkloadCompiler {
  private segments: LoadedSegment[] = [];
  private changedAt: ReadonlyMap<string, number> = new Map();
  private changeFloor = 0;
  /**
   * Per workload: its config without the generation line, the generation that body got, and
   * the config compiled with it (reused while the body stays: one compile, not two, for a
   * workload a policy change does not touch). The generation moves only when the body does, so
   * an unaffected proxy's bytes (and version) stay the same; it is the newest change time among
   * the segments that select the workload and the source's floor (deletions), and always above
   * the previous one.
   */
  private readonly generations = new Map<string, { body: string; generation: number; compiled: CompiledConfig }>();
  /** This policy state's configs, by workload key: proxies of one workload compile once. */
  private compiled = new Map<string, CompiledConfig>();

  constructor(private readonly compileFn: CompileFn) {}

  setPolicy(policy: PolicyInput): void {
    this.segments = [...policy.segments];
    this.changedAt = policy.changedAt;
    this.changeFloor = policy.changeFloor;
    this.compiled = new Map();
  }

  /** The segments in force (for naming the files behind an oversized config). */
  get policySegments(): readonly LoadedSegment[] {
    return this.segments;
  }

  /** The workload's config under the current policy; throws what the compile function throws. */
  compile(workload: Workload): CompiledConfig {
    const key = workloadKey(workload);
    let c = this.compiled.get(key);
    if (!c) {
      const body = this.compileFn(this.segments, workload);
      const seen = this.generations.get(key);
      if (seen && seen.body === body.config) {
        c = seen.compiled;
      } else {
        let generation = Math.max(this.changeFloor, ...body.segments.map((k) => this.changedAt.get(k) ?? 0));
        if (seen) generation = Math.max(generation, seen.generation + 1);
        c = this.compileFn(this.segments, workload, { generation });
        this.generations.set(key, { body: body.config, generation, compiled: c });
      }
      this.compiled.set(key, c);
    }
    return c;
  }
}
