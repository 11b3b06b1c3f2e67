// The canary's window: what the new and the old generation served over the same time, from the
// end of the new generation's warm-up to the end of probation, judged at the end
// (lib/observe/canary.ts).
//
//   begin (probation starts)   warm (warmupMs later)                 verdict (probation ends)
//   |-- left out: the new one's warm-up --|-- judged, both generations --|
//
// Why apart: a reload (both generations in one master) and an upgrade (the new generation in
// another master, its totals reported over the upgrade channel) take their figures from
// different places, but judge the same way: totals when the window opens, totals at the end,
// the difference of each judged against the other's. Why a warm-up: every generation is slower
// on its first requests (JIT, pools connecting, caches filling), and the old one's are long past.
import { judge, type CanaryPolicy, type Verdict, type Warmup } from './canary';
import { tallySince, type Tally } from './metrics';

export interface WindowSources {
  /** The new generation's totals so far. */
  next: () => Tally;
  /** The old generation's totals so far. */
  prev: () => Tally;
  policy: CanaryPolicy;
}

/** How many responses a tally counts. */
export function responsesOf(t: Tally): number {
  return Object.values(t.codes).reduce((a, b) => a + b, 0);
}

export class CanaryWindow {
  /** The new generation's totals when probation began. */
  private start: Tally | undefined;
  private nextBase: Tally | undefined;
  private prevBase: Tally | undefined;
  private warmed = false;

  constructor(private readonly s: WindowSources) {}

  /** Probation starts: the new generation's warm-up, left out, is counted from here. */
  begin(): void {
    this.start = this.s.next();
    this.nextBase = this.start;
    this.prevBase = this.s.prev();
    this.warmed = false;
  }

  /** The warm-up is over (policy.warmupMs after begin): the window both generations are judged over opens. */
  warm(): void {
    this.nextBase = this.s.next();
    this.prevBase = this.s.prev();
    this.warmed = true;
  }

  /**
   * Probation ends: the verdict over the window. `left`: what was left out of the new
   * generation's figures before they came (an upgrade's new master leaves out its own warm-up).
   */
  verdict(left?: Warmup): Verdict {
    const next = this.s.next();
    const prev = this.s.prev();
    const warmup = left ?? (this.warmed && this.nextBase ? { ms: this.s.policy.warmupMs ?? 0, responses: responsesOf(this.start ? tallySince(this.nextBase, this.start) : this.nextBase) } : undefined);
    return judge(this.nextBase ? tallySince(next, this.nextBase) : next, this.prevBase ? tallySince(prev, this.prevBase) : prev, this.s.policy, warmup);
  }
}
