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
  /** The new generation's totals so far. */
  next: () => Tally;
  /** The old generation's totals so far. */
  prev: () => Tally;
  /** How many of the new generation's responses so far were its workers' warm-up (left out of `next`). */
  left?: () => number;
  policy: CanaryPolicy;
}

export class CanaryWindow {
  private nextBase: Tally | undefined;
  private prevBase: Tally | undefined;
  private leftBase = 0;

  constructor(private readonly s: WindowSources) {}

  /** Probation starts: the totals the window counts from. */
  begin(): void {
    this.nextBase = this.s.next();
    this.prevBase = this.s.prev();
    this.leftBase = this.s.left?.() ?? 0;
  }

  /**
   * Probation ends: the verdict over the window. `left`: what the new generation's figures left
   * out when they came from elsewhere (an upgrade's new master); else counted here.
   */
  verdict(left?: Warmup): Verdict {
    const next = this.s.next();
    const prev = this.s.prev();
    const ms = this.s.policy.warmupMs ?? 0;
    const warmup = left ?? (this.s.left && ms > 0 ? { ms, responses: this.s.left() - this.leftBase } : undefined);
    return judge(this.nextBase ? tallySince(next, this.nextBase) : next, this.prevBase ? tallySince(prev, this.prevBase) : prev, this.s.policy, warmup);
  }
}
