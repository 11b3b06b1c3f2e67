// The goals the bench holds its figures to (docs/benchmarks.md, "Goals"), computed from the
// matrix, the upgrade phase's segments and the events. An asserted goal that is missed makes
// the exit status 1; the others are reported only. Asserted always: correctness (failed
// requests, events completed, leaks, processes left). Throughput and balance goals are asserted
// only with --assert-goals (`assert` below), so that a busy machine's noise never fails a run. A
// goal with nothing to judge (a target or a load left out, one worker, no event) is n/a: value
// null, met.
import type { LoadName } from './loads';
import { findCell, type Cell, type RatioRow } from './matrix';
import type { EventStats } from './takeover';

export interface Goal {
  what: string;
  value: number | null;
  target: string;
  met: boolean;
  /** Counted in the exit status (a missed asserted goal makes it 1); the others are reported only. */
  asserted: boolean;
  /** Where the matrix tables show it: ratio:<load>:<peer>:<W>, balance:<load>:<W>, failed|p99|recovery:<load>. */
  key?: string;
  /** Set when the figure exists but the method cannot judge it (price per core: the calibration, bench/price-goals.ts). */
  unjudged?: string;
}

export const BOUNDS = {
  /** fresh: baton / bare cluster SCHED_NONE, and / bare cluster round robin. */
  freshOverNone: 0.95,
  freshOverCluster: 1.4,
  /** keep-alive, mixed (and share): baton / the better of the two bare clusters. */
  overBest: 0.97,
  /** baton's busiest worker / the mean share. */
  balance: 1.25,
  /** upgrade phase: p99 during the events / steady p99, and throughput between events / steady. */
  p99: 2,
  recovery: 0.9,
  /** baton / baton with its per-response counting off: counting costs at most 2 %. */
  counting: 0.98,
  /** upgrade signal -> serving / a bare cluster's boot. */
  boot: 1.5,
} as const;

function goal(what: string, value: number | null, target: string, pass: (v: number) => boolean, asserted: boolean, key?: string): Goal {
  return { what, value, target, met: value === null || pass(value), asserted, ...(key ? { key } : {}) };
}

/** Throughput against the peers and balance, per worker count and load; asserted with --assert-goals (`assert`). */
export function matrixGoals(cells: Cell[], rows: RatioRow[], loads: LoadName[], workersSet: number[], assert = false): Goal[] {
  const out: Goal[] = [];
  for (const w of workersSet) {
    for (const load of loads) {
      const row = rows.find((r) => r.load === load && r.workers === w);
      if (load === 'fresh') {
        out.push(goal(`fresh, W=${w}: baton / bare cluster SCHED_NONE (median of rounds)`, row?.overNone?.median ?? null,
          `>= ${BOUNDS.freshOverNone}`, (v) => v >= BOUNDS.freshOverNone, assert, `ratio:fresh:cluster-none:${w}`));
        out.push(goal(`fresh, W=${w}: baton / bare cluster round robin (median of rounds)`, row?.overCluster?.median ?? null,
          `>= ${BOUNDS.freshOverCluster}`, (v) => v >= BOUNDS.freshOverCluster, assert, `ratio:fresh:cluster:${w}`));
      } else {
        out.push(goal(`${load}, W=${w}: baton / the better bare cluster (median of rounds)`, row?.overBest?.median ?? null,
          `>= ${BOUNDS.overBest}`, (v) => v >= BOUNDS.overBest, assert, `ratio:${load}:best:${w}`));
      }
      out.push(goal(`${load}, W=${w}: baton / baton with its counting off (median of rounds)`, row?.overUncounted?.median ?? null,
        `>= ${BOUNDS.counting}`, (v) => v >= BOUNDS.counting, false, `counting:${load}:${w}`));
      const b = findCell(cells, 'baton', load, w);
      out.push(goal(`${load}, W=${w}: baton's busiest worker / mean share (median of rounds)`, w > 1 ? (b?.balance ?? null) : null,
        `<= ${BOUNDS.balance}`, (v) => v <= BOUNDS.balance, assert, `balance:${load}:${w}`));
    }
  }
  return out;
}

/** What the upgrade phase measured under one load (bench/upgrades.ts). */
export interface SegmentFigures {
  load: LoadName;
  upgrades: number;
  reloads: number;
  /** Requests of the segment without a complete 2xx response. */
  failed: number;
  /** p99 of the requests sent during the upgrades (reloads when none) / baton's steady p99 under this load. */
  p99Ratio: number | null;
  /** Throughput between events / steady: the lowest and the median over the windows. */
  recovery: { min: number | null; median: number | null; windows: number };
}

export function segmentGoals(segments: SegmentFigures[]): Goal[] {
  const out: Goal[] = [];
  for (const s of segments) {
    const n = s.upgrades + s.reloads;
    out.push(goal(`${s.load}: failed requests during the upgrade phase's ${s.upgrades} upgrade(s) and ${s.reloads} reload(s) under it`,
      n > 0 ? s.failed : null, '= 0', (v) => v === 0, true, `failed:${s.load}`));
    out.push(goal(`${s.load}: p99 during ${s.upgrades > 0 ? 'upgrades' : 'reloads'} / baton steady p99`, s.p99Ratio,
      `<= ${BOUNDS.p99}`, (v) => v <= BOUNDS.p99, false, `p99:${s.load}`));
    out.push(goal(`${s.load}: throughput between events / baton steady (lowest of ${s.recovery.windows} pause(s))`, s.recovery.min,
      `>= ${BOUNDS.recovery}`, (v) => v >= BOUNDS.recovery, false, `recovery:${s.load}`));
  }
  return out;
}

/** The goals over the whole run: nothing failed, every event completed, upgrades as fast as a boot. */
export function runGoals(o: { failedRequests: number; eventsOk: number; events: number; upgrades: EventStats; bareUnderLoadMs: number | null; bareIdleMedianMs: number }): Goal[] {
  const ts = o.upgrades.toServingMedianMs;
  const per = (base: number | null): number | null => (ts === null || base === null || !(base > 0) ? null : Math.round((ts / base) * 1000) / 1000);
  return [
    goal('failed requests (all phases)', o.failedRequests, '= 0', (v) => v === 0, true),
    goal('upgrade signal -> serving (median) / bare cluster boot under load', per(o.bareUnderLoadMs), `<= ${BOUNDS.boot}`, (v) => v <= BOUNDS.boot, false),
    goal('upgrade signal -> serving (median) / bare cluster boot idle', per(o.bareIdleMedianMs), `<= ${BOUNDS.boot}`, (v) => v <= BOUNDS.boot, false),
    { what: 'upgrades and reloads completed', value: o.eventsOk, target: `= ${o.events}`, met: o.eventsOk === o.events, asserted: true },
  ];
}

export function exitCodeOf(goals: Goal[]): 0 | 1 {
  return goals.some((g) => g.asserted && !g.met) ? 1 : 0;
}
