// How sure the canary can be of a difference: confidence bounds on a share (5xx) and on a
// quantile (latency) from the counts a generation served, so a release is rolled back only on
// a difference its sample proves, never on one p99 of a few responses.
//
// Why bounds and not point figures: a p99 of 40 responses is its slowest response; a 5xx share of
// 2 in 20 is 10 % or 1 % with equal ease. Each rule compares the new generation's bound on the
// favourable side with the old one's on the unfavourable side (the new one at least this bad,
// the old one at most this bad), so chance alone rolls back a healthy release with a probability
// below (1 - CONFIDENCE)^2 for each rule, and a real regression is caught once the sample shows it.
//
// - Share: the Wilson score interval (sound at 0 and at small counts, where the normal
//   approximation says a share of 0 of 20 is certainly 0).
// - Quantile: the order-statistic bound. Of n responses, the number below the true q-quantile is
//   Binomial(n, q); the response at rank nq - z·sqrt(nq(1-q)) is below it with the confidence,
//   the one at rank nq + z·sqrt(nq(1-q)) above it. A sample too small for the upper rank (for p90,
//   fewer than about 60 responses; for the median, about 25) cannot bound that quantile: the
//   judge compares the quantiles (QUANTILES) both samples bound.

/** One-sided confidence of each bound. */
export const CONFIDENCE = 0.99;
/** Its standard normal quantile. */
export const Z = 2.326;

/**
 * The quantiles the latency rule compares, where the samples bound them: the body of the
 * distribution, not its tail. A new process's first seconds under load have a tail of their own (a
 * garbage collection while the heap grows, a stall that delays every connection a worker holds):
 * with p95 and p99 judged too, 8 of 100 reloads and upgrades of unchanged code were rolled back
 * under a saturating load (bench/canary-soak.ts, probation 1000 ms, the window timed from its start;
 * 1 of 40 with 3000 ms), and
 * none with these three. A release slower throughout, or on a tenth of its requests, shows here.
 */
export const QUANTILES: readonly number[] = Object.freeze([0.9, 0.75, 0.5]);

export interface Bounds {
  lo: number;
  hi: number;
}

/** Wilson bounds of a share of `k` in `n` (0 and 1 when n is 0). */
export function shareBounds(k: number, n: number, z: number = Z): Bounds {
  if (n <= 0) return { lo: 0, hi: 1 };
  const p = k / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const d = 1 + z2 / n;
  return { lo: Math.max(0, (centre - half) / d), hi: Math.min(1, (centre + half) / d) };
}

/**
 * The 1-based ranks, among `n` sorted responses, of the bounds of the q-quantile: `lo` at least 1
 * (0 when the sample cannot bound it from below), `hi` above `n` when it cannot bound it from above.
 */
export function rankBounds(n: number, q: number, z: number = Z): Bounds {
  const centre = n * q;
  const spread = z * Math.sqrt(n * q * (1 - q));
  return { lo: Math.max(0, Math.floor(centre - spread)), hi: Math.floor(centre + spread) + 1 };
}

/** `p99`, `p95`, `p50`. */
export function quantileName(q: number): string {
  return `p${Math.round(q * 100)}`;
}
