// The probation judge: does the new generation serve as well as the old one did, side by side?
//
// Why pure: the master takes the two generations' tallies over the same window (both serve
// during probation) and asks; the answer and its reason do not depend on timers, processes or
// sockets, so every edge is a unit test. The reason names the figures, e.g.
//   5xx 21.4% (112 of 523) vs 0.0% (0 of 611) in probation
//   p99 412 ms vs 80 ms (5.2x, limit 3x) in probation
// and the caller puts `upgrade rolled back: ` or `reload rolled back: ` in front.
//
// Rules (docs/options.md, "Canary probation"):
// - Fewer than minRequests responses from the new generation: 'not-enough' (judged on crashes
//   alone, as before this judge existed).
// - 5xx: fail when the new share exceeds the old one by more than maxErrorRate. When the old
//   generation served fewer than minRequests responses in the window its share is no
//   baseline: the new share is held against maxErrorRate alone.
// - Latency: fail when the new p99 exceeds maxLatencyRatio x the old p99, the old p99 taken as
//   at least latencyFloorMs (a cold generation's first requests are slower by a few ms: that
//   is no regression). Not judged when the old generation served fewer than minRequests, or
//   when maxLatencyRatio is 0.
import type { Tally } from './metrics';
import { STATUS_CLASSES } from './request-stats';

export interface CanaryPolicy {
  /** Largest allowed excess of the new 5xx share over the old one, 0 to 1. Default 0.05. */
  maxErrorRate: number;
  /** Largest allowed new p99 / old p99; 0 turns the latency rule off. Default 3. */
  maxLatencyRatio: number;
  /** Responses the new generation must have served to be judged by what it serves. Default 20. */
  minRequests: number;
  /** The old p99 counts as at least this (ms) in the latency rule. Default LATENCY_FLOOR_MS. */
  latencyFloorMs?: number;
}

export const CANARY_DEFAULTS: Readonly<CanaryPolicy> = Object.freeze({ maxErrorRate: 0.05, maxLatencyRatio: 3, minRequests: 20 });
/** The smallest old p99 (ms) the latency rule compares with. */
export const LATENCY_FLOOR_MS = 20;

/** The figures of one generation's window. */
export interface Figures {
  responses: number;
  errors: number;
  /** errors / responses, 0 when it served none. */
  errorRate: number;
  /** ms, undefined when it served none. */
  p99: number | undefined;
}

export interface Verdict {
  /** 'fail': roll back; 'pass': promote; 'not-enough': too few responses, judge on crashes alone. */
  result: 'pass' | 'fail' | 'not-enough';
  /** The figures, for the log and the rollback's reason (without the "rolled back: " prefix). */
  reason: string;
  next: Figures;
  prev: Figures;
}

export function figures(t: Tally): Figures {
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

/** Judges the new generation's window (`next`) against the old one's (`prev`) over the same time. */
export function judge(next: Tally, prev: Tally, policy: CanaryPolicy = CANARY_DEFAULTS): Verdict {
  const n = figures(next);
  const p = figures(prev);
  const floor = policy.latencyFloorMs ?? LATENCY_FLOOR_MS;
  if (n.responses < policy.minRequests) {
    return { result: 'not-enough', reason: `${n.responses} response(s) in probation, fewer than minRequests ${policy.minRequests}: judged on crashes alone`, next: n, prev: p };
  }
  const baseline = p.responses >= policy.minRequests;
  const errText = `5xx ${percent(n.errorRate)} (${n.errors} of ${n.responses}) vs ${percent(p.errorRate)} (${p.errors} of ${p.responses})`;
  const failures: string[] = [];
  const notes: string[] = [];

  if (baseline) {
    if (n.errorRate - p.errorRate > policy.maxErrorRate) failures.push(`${errText} in probation`);
    else notes.push(errText);
  } else if (n.errorRate > policy.maxErrorRate) {
    failures.push(`5xx ${percent(n.errorRate)} (${n.errors} of ${n.responses}) in probation, above maxErrorRate ${percent(policy.maxErrorRate)} (the old generation served ${p.responses}, too few to compare with)`);
  } else {
    notes.push(`5xx ${percent(n.errorRate)} (${n.errors} of ${n.responses})`);
  }

  if (policy.maxLatencyRatio > 0 && baseline && n.p99 !== undefined && p.p99 !== undefined) {
    const base = Math.max(p.p99, floor);
    const ratio = n.p99 / p.p99;
    const floorText = p.p99 < floor ? `, of at least ${millis(floor)}` : '';
    const text = `p99 ${millis(n.p99)} vs ${millis(p.p99)} (${ratio.toFixed(1)}x, limit ${policy.maxLatencyRatio}x${floorText})`;
    if (n.p99 > policy.maxLatencyRatio * base) failures.push(`${text} in probation`);
    else notes.push(`p99 ${millis(n.p99)} vs ${millis(p.p99)}`);
  } else if (policy.maxLatencyRatio > 0 && n.p99 !== undefined) {
    notes.push(`p99 ${millis(n.p99)}, not compared (the old generation served ${p.responses})`);
  }

  if (failures.length > 0) return { result: 'fail', reason: failures.join('; '), next: n, prev: p };
  return { result: 'pass', reason: `${notes.join(', ')} in probation`, next: n, prev: p };
}
