// The steady matrix's figures: for each target, worker count and load, the runs of its rounds
// (the targets in turn, round after round), and baton's throughput as a ratio to each peer.
// A ratio is the median of per-round ratios (baton's run of round k over the peer's run of the
// same round), so that a slow drift of the machine weighs on both sides of each ratio.
import type { RunRecords } from './common';
import { balanceOf, workerCounts } from './balance';
import type { LoadName, TargetName } from './loads';
import { median, round, summarize, type TargetStats } from './stats';

export interface Round {
  rps: number;
  p99: number;
  /** Busiest worker / mean share (bench/balance.ts); null for one process or nothing answered. */
  balance: number | null;
  /** Per-worker shares, busiest first. */
  shares: number[];
  /** CPU ms of the server's processes (master and workers) per 1000 answered requests; null when unread. */
  cpuPerK: number | null;
}

export interface Cell {
  target: TargetName;
  /** Worker processes (1 for single). */
  workers: number;
  /** The worker count of the rounds it ran in (single runs in the rounds of one worker count). */
  group: number;
  load: LoadName;
  /** All its rounds merged. */
  stats: TargetStats;
  rounds: Round[];
  /** Medians over the rounds. */
  rps: number;
  p99: number;
  balance: number | null;
  /** The least balanced round. */
  balanceMax: number | null;
  /** Median over the rounds of cpuPerK. */
  cpuPerK: number | null;
}

export function cellOf(target: TargetName, workers: number, group: number, load: LoadName, runs: RunRecords[]): Cell {
  const rounds: Round[] = runs.map((r) => {
    const s = summarize([r]);
    const b = balanceOf(workerCounts(r).values(), workers);
    const cpu = r.serverCpuMs ?? null;
    return { rps: s.rps, p99: s.p99, balance: workers > 1 ? b.ratio : null, shares: b.shares, cpuPerK: cpu !== null && s.answered > 0 ? round((cpu / s.answered) * 1000, 2) : null };
  });
  const cpus = rounds.map((x) => x.cpuPerK).filter((x): x is number => x !== null);
  const bal = rounds.map((x) => x.balance).filter((x): x is number => x !== null);
  return {
    target, workers, group, load, stats: summarize(runs), rounds,
    rps: round(median(rounds.map((x) => x.rps)), 1),
    p99: round(median(rounds.map((x) => x.p99)), 3),
    balance: bal.length ? round(median(bal), 3) : null,
    balanceMax: bal.length ? Math.max(...bal) : null,
    cpuPerK: cpus.length ? round(median(cpus), 2) : null,
  };
}

export interface RatioSet {
  /** Median of the per-round ratios. */
  median: number;
  rounds: number[];
  min: number;
  max: number;
  spread: number;
}

/** Per-round ratios num[k] / den[k] (rounds without a positive denominator left out); null when none. */
export function ratioSet(num: number[], den: number[]): RatioSet | null {
  const rs: number[] = [];
  for (let k = 0; k < Math.min(num.length, den.length); k++) {
    const d = den[k] as number;
    if (d > 0 && Number.isFinite(num[k])) rs.push(round((num[k] as number) / d, 4));
  }
  if (rs.length === 0) return null;
  const min = Math.min(...rs);
  const max = Math.max(...rs);
  return { median: round(median(rs), 4), rounds: rs, min, max, spread: round(max - min, 4) };
}

export interface RatioRow {
  load: LoadName;
  workers: number;
  /** baton / bare cluster, round robin. */
  overCluster: RatioSet | null;
  /** baton / bare cluster, SCHED_NONE (workers accept for themselves). */
  overNone: RatioSet | null;
  /** baton / the better of the two bare clusters, round by round. */
  overBest: RatioSet | null;
  /** baton / one process (only in the rounds single ran in). */
  overSingle: RatioSet | null;
}

export function findCell(cells: Cell[], target: TargetName, load: LoadName, workers: number): Cell | undefined {
  return cells.find((c) => c.target === target && c.load === load && (target === 'single' ? c.group === workers : c.workers === workers));
}

export function ratioRows(cells: Cell[], loads: LoadName[], workersSet: number[]): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const w of workersSet) {
    for (const load of loads) {
      const rps = (t: TargetName): number[] | undefined => findCell(cells, t, load, w)?.rounds.map((r) => r.rps);
      const baton = rps('baton');
      const cl = rps('cluster');
      const none = rps('cluster-none');
      const single = rps('single');
      const over = (den: number[] | undefined): RatioSet | null => (baton && den ? ratioSet(baton, den) : null);
      const best = cl || none ? (baton ?? []).map((_, k) => Math.max(cl?.[k] ?? 0, none?.[k] ?? 0)) : undefined;
      rows.push({ load, workers: w, overCluster: over(cl), overNone: over(none), overBest: over(best), overSingle: over(single) });
    }
  }
  return rows;
}
