// The probation's canary: does the new generation serve as well as the old one did, side by side,
// over the same window (from the start of probation to its end)?
//
// Why pure: the master takes the two generations' tallies over the same window (both serve
// during probation) and asks; the answer and its reason do not depend on timers, processes or
// sockets, so every edge is a unit test. The reason names the figures, e.g.
//   5xx 21.4% (112 of 523) vs 0.0% (0 of 611) in probation
// and the caller puts `upgrade rolled back: ` or `reload rolled back: ` in front.
//
// The rules (warm-up left out, minRequests, 5xx, latency at p50/p75/p90 with a floor, an old
// generation too small to be a baseline) are told in docs/options.md, "Canary probation"; the
// bounds each rule uses, and why not the tail: lib/observe/evidence.ts.
//
// The window (CanaryWindow): a reload (both generations in one master) and an upgrade (the new
// generation in another master, its tally reported over the upgrade channel) take their figures
// from different places, but judge the same way: totals when the window opens, totals at the end,
// the difference of each judged against the other's.
import { tallySince, type Tally } from './metrics';
import { STATUS_CLASSES } from './request-stats';
import { CONFIDENCE, QUANTILES, quantileName, rankBounds, shareBounds } from './evidence';
import { CANARY_DEFAULTS, type CanaryPolicy } from '../config/observe';

/** What the window left out: the new generation's workers' warm-up. */
export interface Warmup {
  ms: number;
  /** The new generation's responses in it. */
  responses: number;
}

/** The smallest old p99 (ms) the latency rule compares with. */
export const LATENCY_FLOOR_MS = 20;

export interface Verdict {
  /** 'fail': roll back; 'pass': promote; 'not-enough': too few responses, judge on crashes alone. */
  result: 'pass' | 'fail' | 'not-enough';
  /** The figures, for the log and the rollback's reason (without the "rolled back: " prefix). */
  reason: string;
}

/**
 * The canary of a change (a reload, an upgrade: lib/pool/trial.ts): its window opens as the
 * probation begins, its verdict is asked at the end. `evidence`: the new side's figures when they
 * were counted in another process (an upgrade's tally, off the wire); none for a reload, whose
 * both sides are counted here. Undefined: nothing to judge by (a malformed tally). A judge in
 * another process answers later (`baton run`: the old master judges for the supervisor).
 */
export interface Judge {
  begin(): void;
  verdict(evidence?: unknown): Verdict | undefined | Promise<Verdict | undefined>;
}

/** One generation's window in figures: its responses, its 5xx, their share, its p99 (ms). */
function figures(t: Tally): { responses: number; errors: number; errorRate: number; p99: number | undefined } {
  let responses = 0;
  for (const c of STATUS_CLASSES) responses += t.codes[c];
  const errors = t.codes['5xx'];
  return { responses, errors, errorRate: responses > 0 ? errors / responses : 0, p99: t.latency.quantile(0.99) };
}

/** `21.4%` */
export function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

/** `412 ms`, `8.5 ms`, `0.42 ms` */
export function millis(ms: number): string {
  const v = ms >= 10 ? Math.round(ms).toString() : ms >= 1 ? ms.toFixed(1) : ms.toFixed(2);
  return `${v} ms`;
}

/** The duration of the response of 1-based `rank` (interpolated in its bucket, as quantiles are); undefined outside 1..count. */
function atRank(t: Tally, rank: number): number | undefined {
  const n = t.latency.count;
  return rank >= 1 && rank <= n ? t.latency.quantile(rank / n) : undefined;
}

/** A quantile as the two samples bound it: the new one's at least `lo`, the old one's at most `hi` (ms). */
interface Compared {
  q: number;
  lo: number;
  hi: number;
}

/**
 * Of the QUANTILES both samples bound (the old one from above, the new one from below), the one
 * where the new generation is shown slowest against the old (the old bound taken as at least
 * `floor`); undefined when the samples bound none. A release slower throughout shows at the
 * median, where the bounds are tightest; one slower on a tenth of its requests at p90.
 */
function slowest(next: Tally, prev: Tally, floor: number): Compared | undefined {
  let worst: Compared | undefined;
  for (const q of QUANTILES) {
    const lo = atRank(next, rankBounds(next.latency.count, q).lo);
    const hi = atRank(prev, rankBounds(prev.latency.count, q).hi);
    if (lo === undefined || hi === undefined) continue;
    if (worst === undefined || lo / Math.max(hi, floor) > worst.lo / Math.max(worst.hi, floor)) worst = { q, lo, hi };
  }
  return worst;
}

/** ` (after a 500 ms warm-up, 212 response(s) of the new generation left out)` */
function warmupText(w: Warmup | undefined): string {
  return w === undefined || w.ms <= 0 ? '' : ` (after a ${w.ms} ms warm-up, ${w.responses} response(s) of the new generation left out)`;
}

/**
 * Judges the new generation's window (`next`) against the old one's (`prev`) over the same time;
 * `warmup` is what the window left out before it opened, for the reason.
 */
export function judge(next: Tally, prev: Tally, policy: CanaryPolicy = CANARY_DEFAULTS, warmup?: Warmup): Verdict {
  const n = figures(next);
  const p = figures(prev);
  const floor = policy.latencyFloorMs ?? LATENCY_FLOOR_MS;
  const where = `in probation${warmupText(warmup)}`;
  if (n.responses < policy.minRequests) {
    return { result: 'not-enough', reason: `${n.responses} response(s) ${where}, fewer than minRequests ${policy.minRequests}: judged on crashes alone` };
  }
  const baseline = p.responses >= policy.minRequests;
  const confidence = `${Math.round(CONFIDENCE * 100)}% confidence`;
  const failures: string[] = [];
  const notes: string[] = [];

  const nb = shareBounds(n.errors, n.responses);
  const newErr = `5xx ${percent(n.errorRate)} (${n.errors} of ${n.responses})`;
  if (baseline) {
    const text = `${newErr} vs ${percent(p.errorRate)} (${p.errors} of ${p.responses})`;
    const excess = nb.lo - shareBounds(p.errors, p.responses).hi;
    if (excess > policy.maxErrorRate) failures.push(`${text}: an excess of at least ${percent(excess)} (${confidence}), above maxErrorRate ${percent(policy.maxErrorRate)}`);
    else notes.push(n.errorRate - p.errorRate > policy.maxErrorRate ? `${text} (not shown to exceed maxErrorRate ${percent(policy.maxErrorRate)} with ${confidence})` : text);
  } else if (nb.lo > policy.maxErrorRate) {
    failures.push(`${newErr}: at least ${percent(nb.lo)} (${confidence}), above maxErrorRate ${percent(policy.maxErrorRate)} (the old generation served ${p.responses}, too few to compare with)`);
  } else {
    notes.push(newErr);
  }

  if (policy.maxLatencyRatio > 0 && n.p99 !== undefined) {
    const worst = baseline ? slowest(next, prev, floor) : undefined;
    if (worst === undefined) {
      notes.push(`p99 ${millis(n.p99)}, not compared (the old generation served ${p.responses}${baseline ? ', too few to bound a quantile' : ''})`);
    } else if (worst.lo > policy.maxLatencyRatio * Math.max(worst.hi, floor)) {
      const floorText = worst.hi < floor ? `, of at least ${millis(floor)}` : '';
      failures.push(`${quantileName(worst.q)} at least ${millis(worst.lo)} vs at most ${millis(worst.hi)} (${(worst.lo / worst.hi).toFixed(1)}x, limit ${policy.maxLatencyRatio}x${floorText}, ${confidence})`);
    } else {
      notes.push(`p99 ${millis(n.p99)} vs ${p.p99 === undefined ? 'none' : millis(p.p99)}`);
    }
  }

  if (failures.length > 0) return { result: 'fail', reason: `${failures.join('; ')} ${where}` };
  return { result: 'pass', reason: `${notes.join(', ')} ${where}` };
}

export class CanaryWindow implements Judge {
  private nextBase: Tally | undefined;
  private prevBase: Tally | undefined;

  /** `next`: the new generation's totals so far (their `left`: its warm-up left out); `prev`: the old one's. */
  constructor(private readonly next: () => Tally, private readonly prev: () => Tally, private readonly policy: CanaryPolicy) {}

  /** Probation starts: the totals the window counts from. */
  begin(): void {
    this.nextBase = this.next();
    this.prevBase = this.prev();
  }

  /**
   * Probation ends: the verdict over the window. `left`: what the new generation's figures left
   * out when they came from elsewhere (an upgrade's new master, in its own policy's warm-up).
   */
  verdict(left?: Warmup): Verdict {
    const next = this.nextBase ? tallySince(this.next(), this.nextBase) : this.next();
    const prev = this.prevBase ? tallySince(this.prev(), this.prevBase) : this.prev();
    const ms = this.policy.warmupMs ?? 0;
    return judge(next, prev, this.policy, left ?? (ms > 0 ? { ms, responses: next.left } : undefined));
  }
}
