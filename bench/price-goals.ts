// The goals of the price-per-core matrix (issue 17), judged only where the method can judge:
//   - baton / the better bare cluster >= 0.97, and baton / baton with counting off >= 0.98, per
//     worker count, load and mode;
//   - judged only when the A/A calibration of the same cell (a bare cluster SCHED_NONE against a
//     second one) is within CALIBRATION of 1, and when at least half of the rounds of both the
//     calibration and the ratio were usable (not flagged: wrk saturated), and never when the load
//     generator shared the servers' CPUs.
// The calibration's error is the larger of its median's distance from 1 and half the range of its
// usable rounds over the square root of their count: a median that lands on 1 by luck between
// rounds of 0.57 and 1.24 (seen here) does not pass for a calibrated run.
// A goal that cannot be judged is reported with its value and why, never met or missed.
// Throughput goals make the exit status 1 only with --assert-goals (bench/goals.ts, exitCodeOf).
import type { Goal } from './goals';
import { TWIN, type PriceCell, type PriceRatio } from './price';

/** |A/A - 1| at most this: the method resolves the cell. */
export const CALIBRATION = 0.02;
export const PRICE_BOUNDS = { overBest: 0.97, counting: 0.98 } as const;

export function calibrationOf(c: PriceCell): PriceRatio | undefined {
  return c.ratios.find((r) => r.what === `cluster-none/${TWIN}`);
}

/** The calibration's error (see the header); null without a usable round. */
export function calibrationError(r: PriceRatio | undefined): number | null {
  if (r === undefined || r.median === null || r.min === null || r.max === null) return null;
  const n = r.rounds.length - r.flagged;
  return Math.round(Math.max(Math.abs(r.median - 1), (r.max - r.min) / 2 / Math.sqrt(n)) * 10000) / 10000;
}

/** Why a ratio of this cell cannot be judged, or null when it can. */
export function unjudged(c: PriceCell, r: PriceRatio | undefined): string | null {
  const cal = calibrationOf(c);
  const half = Math.ceil(c.runs.length / 2);
  if (cal === undefined || cal.median === null) return 'no calibration (every calibration round flagged)';
  if (cal.rounds.length - cal.flagged < half) return `calibration: only ${cal.rounds.length - cal.flagged} of ${cal.rounds.length} rounds usable`;
  const err = calibrationError(cal) as number;
  if (err > CALIBRATION) return `calibration ${cal.median.toFixed(3)} ± ${err.toFixed(3)} (rounds ${(cal.min as number).toFixed(3)} to ${(cal.max as number).toFixed(3)}): off by more than ${CALIBRATION * 100} %`;
  if (r === undefined || r.median === null) return 'every round flagged';
  if (r.rounds.length - r.flagged < half) return `only ${r.rounds.length - r.flagged} of ${r.rounds.length} rounds usable`;
  return null;
}

/** `disjoint`: the load generator and the servers had CPUs of their own (bench/affinity.ts); without, nothing is judged. */
export function priceGoals(cells: PriceCell[], assert: boolean, disjoint = true): Goal[] {
  const out: Goal[] = [];
  for (const c of cells) {
    const cal = calibrationOf(c);
    const err = calibrationError(cal);
    const calText = `A/A ${cal?.median?.toFixed(3) ?? '-'}${err === null ? '' : ` ± ${err.toFixed(3)}`}`;
    for (const [what, bound, label] of [['baton/best', PRICE_BOUNDS.overBest, 'baton / the better bare cluster'], ['baton/baton-uncounted', PRICE_BOUNDS.counting, 'baton / baton with counting off']] as const) {
      const r = c.ratios.find((x) => x.what === what);
      if (r === undefined) continue;
      const why = disjoint ? unjudged(c, r) : 'the load generator shared the servers\' CPUs (one CPU, or no taskset)';
      const v = r.median;
      out.push({
        what: `per core, ${c.mode}, ${c.load}, W=${c.workers}: ${label} (median of rounds; ${calText})`,
        value: v, target: `>= ${bound}`, met: v === null || v >= bound,
        asserted: assert && why === null,
        key: `price:${c.mode}:${c.load}:${c.workers}:${what}`,
        ...(why !== null ? { unjudged: why } : {}),
      });
    }
  }
  return out;
}
