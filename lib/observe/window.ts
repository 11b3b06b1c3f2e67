// The canary's window: what the new and the old generation served from the start of
// probation to its end, judged at the end (lib/observe/canary.ts).
//
// Why apart: a reload (both generations in one master) and an upgrade (the new generation in
// another master, its totals reported over the upgrade channel) take their figures from
// different places, but judge the same way: totals at the start, totals at the end, the
// difference of each judged against the other's.
import { judge, type CanaryPolicy, type Verdict } from './canary';
import { tallySince, type Tally } from './metrics';

export interface WindowSources {
  /** The new generation's totals so far. */
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

  /** Probation ends: the verdict over the window. */
  verdict(): Verdict {
    const next = this.s.next();
    const prev = this.s.prev();
    return judge(this.nextBase ? tallySince(next, this.nextBase) : next, this.prevBase ? tallySince(prev, this.prevBase) : prev, this.s.policy);
  }
}
