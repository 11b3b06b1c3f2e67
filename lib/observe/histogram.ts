// A latency histogram with fixed buckets, for the canary's p99 and for Prometheus.
//
// Why fixed buckets: a worker records every response, so recording must be a binary search
// and an increment (no allocation); deltas from many workers, and totals handed from an old
// master to a new one, must add up exactly, which fixed buckets do and sketches do not. The
// buckets step by at most 1.167x (22 per decade, 0.1 ms to 100 s), so a quantile read from
// them, interpolated inside its bucket, is within about 15 % of the true value; the
// Prometheus output sums them into 16 coarser `le` bounds (0.5 ms to 60 s) that are all
// bucket edges, so nothing is estimated there.

/** Steps inside one decade: consecutive ratios at most 1.167 (3 -> 3.5, 6 -> 7). */
const STEPS = [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.25, 2.5, 2.75, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 9];

function bounds(): number[] {
  const out: number[] = [];
  for (let e = -1; e <= 4; e++) for (const s of STEPS) out.push(Number((s * 10 ** e).toPrecision(6)));
  out.push(100_000);
  return out;
}

/** Upper bounds (inclusive, ms) of the fine buckets; one more bucket above the last holds the rest. */
export const BOUNDS_MS: readonly number[] = Object.freeze(bounds());
const EDGES = Float64Array.from(BOUNDS_MS);
/** Number of counts a histogram keeps: one per bound, plus the overflow bucket. */
export const BUCKETS = BOUNDS_MS.length + 1;

/** The `le` bounds of the Prometheus output, in ms; each is one of BOUNDS_MS. */
export const PROMETHEUS_BOUNDS_MS: readonly number[] = Object.freeze([0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000]);

/**
 * A histogram as a small plain object (IPC, JSON): `n` observations, their `sum` in ms,
 * and `b` the non-empty buckets as flat pairs [index, count, index, count, ...].
 */
export interface HistogramData {
  n: number;
  sum: number;
  b: number[];
}

/** Whether `x` is a well-formed HistogramData (check what comes over IPC or from a file). */
export function isHistogramData(x: unknown): x is HistogramData {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  if (!isCount(d.n) || typeof d.sum !== 'number' || !Number.isFinite(d.sum) || d.sum < 0 || !Array.isArray(d.b) || d.b.length % 2 !== 0) return false;
  let total = 0;
  for (let i = 0; i < d.b.length; i += 2) {
    const idx = d.b[i];
    const c = d.b[i + 1];
    if (!Number.isInteger(idx) || (idx as number) < 0 || (idx as number) >= BUCKETS || !isCount(c)) return false;
    total += c as number;
  }
  return total === d.n;
}

/** Whether `v` is a count: a non-negative safe integer. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Index of the bucket that holds `ms`: the first bound >= ms (binary search). */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = EDGES.length; // EDGES.length = the overflow bucket
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (EDGES[mid] >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class Histogram {
  /** counts[i]: observations in bucket i (BOUNDS_MS[i - 1], BOUNDS_MS[i]]; the last is the overflow. */
  readonly counts = new Float64Array(BUCKETS);
  /** Observations recorded. */
  count = 0;
  /** Their sum, in ms. */
  sum = 0;

  /** Records one duration in ms (negative or NaN counts as 0). No allocation. */
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sum += v;
  }

  /** Adds another histogram (or its data) to this one. Data must pass isHistogramData. */
  merge(other: Histogram | HistogramData): this {
    const d = other instanceof Histogram ? other.toData() : other;
    for (let i = 0; i < d.b.length; i += 2) this.counts[d.b[i]] += d.b[i + 1];
    this.count += d.n;
    this.sum += d.sum;
    return this;
  }

  /** A new histogram: this one minus `base` (an earlier reading of the same counts: a window). */
  minus(base: Histogram): Histogram {
    const h = new Histogram();
    for (let i = 0; i < BUCKETS; i++) h.counts[i] = Math.max(0, this.counts[i] - base.counts[i]);
    h.count = Math.max(0, this.count - base.count);
    h.sum = Math.max(0, this.sum - base.sum);
    return h;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
  }

  /**
   * The q-quantile (0 < q <= 1) in ms, interpolated linearly inside its bucket; undefined when
   * empty. A quantile in the overflow bucket reads as the last bound (100 s): "at least".
   */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.min(Math.max(q, 0), 1) * this.count;
    let seen = 0;
    for (let i = 0; i < EDGES.length; i++) {
      const c = this.counts[i];
      if (c > 0 && seen + c >= rank) {
        const lo = i === 0 ? 0 : EDGES[i - 1];
        return lo + (EDGES[i] - lo) * Math.max(0, Math.min(1, (rank - seen) / c));
      }
      seen += c;
    }
    return EDGES[EDGES.length - 1];
  }

  /** Cumulative counts at each of PROMETHEUS_BOUNDS_MS (then +Inf = count), for `_bucket{le}`. */
  cumulative(): number[] {
    const out: number[] = [];
    let i = 0;
    let acc = 0;
    for (const b of PROMETHEUS_BOUNDS_MS) {
      while (i < EDGES.length && EDGES[i] <= b) acc += this.counts[i++];
      out.push(acc);
    }
    return out;
  }

  /** The non-empty buckets as a small plain object (what a worker sends, what a snapshot keeps). */
  toData(): HistogramData {
    const b: number[] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) b.push(i, this.counts[i]);
    return { n: this.count, sum: this.sum, b };
  }
}
