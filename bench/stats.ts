// Figures computed from the load generator's records.
import { ANSWERED, FAILED, PENDING, type RunRecords } from './common';

export interface TargetStats {
  /** Measured load runs merged into this figure. */
  runs: number;
  /** Seconds during which requests were sent (summed over runs). */
  durationS: number;
  /** Requests sent. requests = answered + failed + inflight. */
  requests: number;
  /** Requests that got a complete response (any status). */
  answered: number;
  /** Answered with a 2xx status. */
  ok: number;
  /** Answered with another status. */
  non2xx: number;
  /** Requests that failed, total and by error code. */
  failed: number;
  errors: Record<string, number>;
  /** Requests still without an outcome when the run ended (after waiting settleMs). */
  inflight: number;
  /** Answered requests per second of sending. */
  rps: number;
  /** Latency of the answered requests, ms. */
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Requests sent on keep-alive connections, and on connections of their own. */
  keepAliveRequests: number;
  freshRequests: number;
  /** Answers by code version (x-bench-version). */
  versions: Record<string, number>;
  /** Longest time (ms) with no response completed while requests were being sent, and when (ms after its run started). */
  maxGapMs: number;
  maxGapAt: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[k] as number;
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Merges runs; `keep` (request index, run) selects requests, `durationS` overrides the time base. */
export function summarize(runs: RunRecords[], keep?: (r: RunRecords, i: number) => boolean, durationS?: number): TargetStats {
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  const versions: Record<string, number> = {};
  let requests = 0;
  let answered = 0;
  let ok = 0;
  let non2xx = 0;
  let failed = 0;
  let inflight = 0;
  let ka = 0;
  let sum = 0;
  let dur = 0;
  let maxGap = 0;
  let maxGapAt = NaN;
  for (const r of runs) {
    dur += (r.stoppedAt - r.startedAt) / 1000;
    const done: number[] = [];
    for (let i = 0; i < r.n; i++) {
      if (keep && !keep(r, i)) continue;
      if (r.outcome[i] === ANSWERED) done.push((r.sendAt[i] as number) + (r.latency[i] as number));
      requests++;
      if (r.keepAlive[i] === 1) ka++;
      const o = r.outcome[i];
      if (o === ANSWERED) {
        answered++;
        const st = r.status[i] as number;
        if (st >= 200 && st <= 299) ok++;
        else non2xx++;
        const l = r.latency[i] as number;
        lat.push(l);
        sum += l;
        const vi = r.version[i] as number;
        const v = vi >= 0 ? (r.versions[vi] as string) : '?';
        versions[v] = (versions[v] ?? 0) + 1;
      } else if (o === FAILED) {
        failed++;
        const code = r.errorCodes[r.error[i] as number] ?? 'EUNKNOWN';
        errors[code] = (errors[code] ?? 0) + 1;
      } else if (o === PENDING) {
        inflight++;
      }
    }
    done.sort((a, b) => a - b);
    for (let k = 1; k < done.length; k++) {
      const at = done[k - 1] as number;
      if (at > r.stoppedAt) break;
      const g = (done[k] as number) - at;
      if (g > maxGap) {
        maxGap = g;
        maxGapAt = at - r.startedAt;
      }
    }
  }
  const sorted = Float64Array.from(lat).sort();
  const d = durationS ?? dur;
  return {
    runs: runs.length,
    durationS: round(d, 3),
    requests,
    answered,
    ok,
    non2xx,
    failed,
    errors,
    inflight,
    rps: d > 0 ? round(answered / d, 1) : 0,
    mean: round(lat.length ? sum / lat.length : NaN, 3),
    p50: round(percentile(sorted, 0.5), 3),
    p99: round(percentile(sorted, 0.99), 3),
    p999: round(percentile(sorted, 0.999), 3),
    max: round(sorted.length ? (sorted[sorted.length - 1] as number) : NaN, 3),
    keepAliveRequests: ka,
    freshRequests: requests - ka,
    versions,
    maxGapMs: round(maxGap, 3),
    maxGapAt: round(maxGapAt, 1),
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export interface Bucket {
  /** Seconds from the start of the run to the start of the bucket. */
  t: number;
  /** Responses completed in the bucket, per second. */
  rps: number;
  /** p99 latency of the responses completed in the bucket (ms); NaN when none. */
  p99: number;
  /** Requests that failed in the bucket (by the time the failure was seen). */
  errors: number;
  /** Responses completed in the bucket, by version. */
  versions: Record<string, number>;
}

export interface Series {
  bucketMs: number;
  /** Epoch ms of t = 0. */
  start: number;
  durationS: number;
  versions: string[];
  buckets: Bucket[];
}

/** Throughput, p99, errors and version shares over time, by completion time. */
export function timeSeries(r: RunRecords, targetBuckets = 240): Series {
  const start = r.startedAt;
  const end = Math.max(r.frozenAt, r.stoppedAt);
  const span = Math.max(1, end - start);
  const steps = [50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];
  const bucketMs = steps.find((s) => span / s <= targetBuckets) ?? 10000;
  const nb = Math.ceil(span / bucketMs);
  const lat: number[][] = Array.from({ length: nb }, () => []);
  const errs = new Array<number>(nb).fill(0);
  const vers: Array<Record<string, number>> = Array.from({ length: nb }, () => ({}));
  const order: string[] = [];
  for (let i = 0; i < r.n; i++) {
    const o = r.outcome[i];
    if (o === PENDING) continue;
    const at = (r.sendAt[i] as number) + (r.latency[i] as number);
    const b = Math.min(nb - 1, Math.max(0, Math.floor((at - start) / bucketMs)));
    if (o === FAILED) {
      errs[b] = (errs[b] as number) + 1;
      continue;
    }
    (lat[b] as number[]).push(r.latency[i] as number);
    const vi = r.version[i] as number;
    const v = vi >= 0 ? (r.versions[vi] as string) : '?';
    if (!order.includes(v)) order.push(v);
    const rec = vers[b] as Record<string, number>;
    rec[v] = (rec[v] ?? 0) + 1;
  }
  const buckets: Bucket[] = [];
  for (let b = 0; b < nb; b++) {
    const l = Float64Array.from(lat[b] as number[]).sort();
    const width = b === nb - 1 ? span - b * bucketMs : bucketMs;
    buckets.push({
      t: round((b * bucketMs) / 1000, 3),
      rps: round(l.length / (Math.max(1, width) / 1000), 1),
      p99: round(percentile(l, 0.99), 3),
      errors: errs[b] as number,
      versions: vers[b] as Record<string, number>,
    });
  }
  return { bucketMs, start, durationS: round(span / 1000, 3), versions: order, buckets };
}
