// How evenly the workers share the requests: bench/app.js names the answering pid in
// x-bench-pid, the load generator stores its index per request (RunRecords.worker). The
// balance of a run is the busiest worker's requests over the mean share (requests / workers,
// counting workers that got none): 1 is perfect, W means one worker served everything.
import { ANSWERED, type RunRecords } from './common';

/** Answered requests per pid (in the order first seen), of the requests `keep` selects. */
export function workerCounts(r: RunRecords, keep?: (i: number) => boolean): Map<number, number> {
  const byIndex = new Array<number>(r.workerPids.length).fill(0);
  for (let i = 0; i < r.n; i++) {
    const w = r.worker[i] as number;
    if (w < 0 || r.outcome[i] !== ANSWERED || (keep && !keep(i))) continue;
    byIndex[w] = (byIndex[w] as number) + 1;
  }
  const out = new Map<number, number>();
  r.workerPids.forEach((pid, k) => {
    if ((byIndex[k] as number) > 0) out.set(pid, byIndex[k] as number);
  });
  return out;
}

export interface Balance {
  /** Busiest worker / mean share; null when nothing was answered. */
  ratio: number | null;
  /** Each worker's share of the requests, busiest first, workers that got none as 0 (3 decimals). */
  shares: number[];
}

/** The balance of per-worker counts among `workers` workers (more when more pids answered). */
export function balanceOf(counts: Iterable<number>, workers: number): Balance {
  const c = [...counts].filter((n) => n > 0).sort((a, b) => b - a);
  const total = c.reduce((a, n) => a + n, 0);
  const n = Math.max(workers, c.length);
  if (total === 0) return { ratio: null, shares: new Array<number>(n).fill(0) };
  while (c.length < n) c.push(0);
  return {
    ratio: Math.round((((c[0] as number) * n) / total) * 1000) / 1000,
    shares: c.map((k) => Math.round((k / total) * 1000) / 1000),
  };
}
