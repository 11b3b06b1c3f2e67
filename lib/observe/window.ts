// The canary's window: what the new and the old generation served from the start of probation
// to its end, but each worker's warm-up (its first `warmup` ms of serving, counted apart by the
// worker: lib/observe/request-stats.ts), judged at the end (lib/observe/canary.ts).
//
// Why apart: a reload (both generations in one master) and an upgrade (the new generation in
// another master, its totals reported over the upgrade channel) take their figures from
// different places, but judge the same way: totals when the window opens, totals at the end,
// the difference of each judged against the other's.
import { judge, type Verdict, type Warmup } from './canary';
import type { CanaryPolicy } from '../config/observe';
import { tallySince, type Tally } from './metrics';

export interface WindowSources {
  /** The new generation's totals so far (their `left`: its warm-up left out). */
  next: () => Tally;
  /** The old generation's totals so far. */
  prev: () => Tally;
  policy: CanaryPolicy;
}

export class CanaryWindow {
  private nextBase: Tally | undefined;
  private prevBase: Tally | undefined;

  constructor(private readonly s: WindowSources) {}

  /** Probation starts: the totals the window counts from. */
  begin(): void {
    this.nextBase = this.s.next();
    this.prevBase = this.s.prev();
  }

  /**
   * Probation ends: the verdict over the window. `left`: what the new generation's figures left
   * out when they came from elsewhere (an upgrade's new master, in its own policy's warm-up).
   */
  verdict(left?: Warmup): Verdict {
    const next = this.nextBase ? tallySince(this.s.next(), this.nextBase) : this.s.next();
    const prev = this.prevBase ? tallySince(this.s.prev(), this.prevBase) : this.s.prev();
    const ms = this.s.policy.warmupMs ?? 0;
    return judge(next, prev, this.s.policy, left ?? (ms > 0 ? { ms, responses: next.left } : undefined));
  }
}
