// The price-per-core matrix: what baton costs per CPU against a bare node:cluster, measured with
// wrk on CPUs of its own and every server on the others (bench/affinity.ts), the method of
// /work/shared/tools/price-per-core.sh built into the bench. For each worker count W, every
// target is started once (pinned, each in a session of its own) beside a second bare cluster
// SCHED_NONE (`cluster-none-2`, the A/A calibration), and kept up through both modes:
//   interleaved  wrk loads one target at a time for --price-duration s, every target in turn (the
//                order rotated each round), --price-rounds rounds: the targets' runs of a round lie
//                within seconds, so a change of the machine's speed weighs on both sides of a ratio
//   paired       two wrk at once, each on one target of a pair: both servers share the server CPUs
//                at the same moment, and the kernel's autogroup (one group per session) splits
//                those CPUs evenly between the two sessions; the order the two start is swapped
//                every round
// A ratio is the median of per-round ratios; a round in which wrk saturated (bench/wrk.ts) is
// flagged and left out of the median. Without disjoint CPUs every ratio is computed, and none is
// judged (bench/price-goals.ts).
import type { CpuPlan } from './affinity';
import type { Config } from './flags';
import type { Mode, TargetName } from './loads';
import { roundOrder } from './steady';
import type { Session, Started } from './session';
import { median, round } from './stats';
import { runWrks, wrkFailed, type WrkLoad, type WrkRun } from './wrk';

export const PRICE_LOADS: WrkLoad[] = ['keep-alive', 'fresh'];
/** The calibration's twin: a second bare cluster SCHED_NONE. */
export const TWIN = 'cluster-none-2';

export interface Instance {
  /** The target's name, or TWIN. */
  name: string;
  started: Started;
}

export interface PriceRatio {
  /** e.g. baton/cluster-none; baton/best: / the better of the two bare clusters (interleaved, round by round). */
  what: string;
  /** Per round; null for a flagged round. */
  rounds: (number | null)[];
  /** Rounds left out: wrk saturated. */
  flagged: number;
  median: number | null;
  min: number | null;
  max: number | null;
}

export interface PriceCell {
  load: WrkLoad;
  workers: number;
  mode: Mode;
  /** Every wrk run: per round, by instance (paired: by "A|B" pair, then instance). */
  runs: Array<Record<string, WrkRun>>;
  ratios: PriceRatio[];
  /** wrk's CPU use and runnable share, medians over the rounds. */
  loadgenCpu: number | null;
  loadgenRunnable: number | null;
  saturatedRounds: number;
  /** Failed requests wrk reported in this cell (non-2xx, socket errors). */
  failed: number;
}

export interface PriceResult {
  wrk: string;
  wrkVersion: string | null;
  plan: CpuPlan;
  autogroup: boolean | null;
  durationS: number;
  rounds: number;
  connections: number;
  cells: PriceCell[];
  /** Failed requests wrk reported over the whole matrix, warm-ups included. */
  failed: number;
}

/** Comparisons of the interleaved mode: [numerator, denominator or 'best'], each when both ran. */
const INTERLEAVED: Array<[string, string]> = [
  ['cluster-none', TWIN], ['baton', 'best'], ['baton', 'cluster-none'], ['baton', 'cluster'], ['baton', 'baton-uncounted'],
  ['baton', 'single'], ['cluster', 'cluster-none'],
];
/** Pairs of the paired mode, the calibration first. */
const PAIRS: Array<[string, string]> = [['cluster-none', TWIN], ['baton', 'cluster-none'], ['baton', 'cluster'], ['baton', 'baton-uncounted']];

/** Median, min and max of the rounds not flagged. */
export function ratioOf(what: string, rounds: (number | null)[]): PriceRatio {
  const ok = rounds.filter((x): x is number => x !== null && Number.isFinite(x));
  return {
    what, rounds, flagged: rounds.length - ok.length,
    median: ok.length ? round(median(ok), 4) : null,
    min: ok.length ? Math.min(...ok) : null,
    max: ok.length ? Math.max(...ok) : null,
  };
}

/** A run's rps, or null when its round is flagged (wrk saturated). */
function usable(r: WrkRun | undefined): number | null {
  return r === undefined || r.saturated || !(r.rps > 0) ? null : r.rps;
}

/** The interleaved mode's ratios from its rounds (by instance name). */
export function interleavedRatios(runs: Array<Record<string, WrkRun>>): PriceRatio[] {
  const names = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: PriceRatio[] = [];
  for (const [a, b] of INTERLEAVED) {
    if (!names.has(a) || (b === 'best' ? !names.has('cluster') && !names.has('cluster-none') : !names.has(b))) continue;
    out.push(ratioOf(`${a}/${b}`, runs.map((r) => {
      const num = usable(r[a]);
      const peers = b === 'best' ? ['cluster', 'cluster-none'].filter((p) => names.has(p)) : [b];
      const den = peers.map((p) => usable(r[p]));
      return num === null || den.some((d) => d === null) ? null : round(num / Math.max(...(den as number[])), 4);
    })));
  }
  return out;
}

/** The paired mode's ratios (each pair's runs keyed "A|B"), and baton/best: the lower of baton/cluster-none and baton/cluster. */
export function pairedRatios(runs: Array<Record<string, WrkRun>>): PriceRatio[] {
  const out: PriceRatio[] = [];
  for (const [a, b] of PAIRS) {
    const key = `${a}|${b}`;
    if (!runs.some((r) => r[`${key}:${a}`] !== undefined)) continue;
    out.push(ratioOf(`${a}/${b}`, runs.map((r) => {
      const x = usable(r[`${key}:${a}`]);
      const y = usable(r[`${key}:${b}`]);
      return x === null || y === null ? null : round(x / y, 4);
    })));
  }
  const peers = out.filter((r) => r.what === 'baton/cluster-none' || r.what === 'baton/cluster');
  if (peers.length > 0) {
    const worst = peers.reduce((m, r) => (r.median !== null && (m.median === null || r.median < m.median) ? r : m));
    out.splice(1, 0, { ...worst, what: 'baton/best' });
  }
  return out;
}

function cellOf(load: WrkLoad, workers: number, mode: Mode, runs: Array<Record<string, WrkRun>>): PriceCell {
  const all = runs.flatMap((r) => Object.values(r));
  const cpus = all.map((r) => r.cpu).filter((x): x is number => x !== null);
  const rn = all.map((r) => r.runnable).filter((x): x is number => x !== null);
  return {
    load, workers, mode, runs,
    ratios: mode === 'interleaved' ? interleavedRatios(runs) : pairedRatios(runs),
    loadgenCpu: cpus.length ? round(median(cpus), 3) : null,
    loadgenRunnable: rn.length ? round(median(rn), 3) : null,
    saturatedRounds: runs.filter((r) => Object.values(r).some((x) => x.saturated)).length,
    failed: all.reduce((s, r) => s + wrkFailed(r), 0),
  };
}

export interface PriceEnv {
  wrk: string;
  plan: CpuPlan;
  /** The pid of every wrk while it runs, so that an interrupted bench kills them too. */
  live: Set<number>;
}

/** The price-per-core matrix at one worker count: every load, each mode; the servers stopped at the end. */
export async function priceGroup(ses: Session, cfg: Config, env: PriceEnv, workers: number, withSingle: boolean): Promise<{ cells: PriceCell[]; warmupFailed: number }> {
  const { plan } = env;
  const wrap = plan.taskset !== null && plan.servers.length > 0 ? { cmd: plan.taskset, args: ['-c', plan.servers.join(',')] } : undefined;
  const names: Array<[string, TargetName]> = cfg.targets.filter((t) => t !== 'single' || withSingle).map((t) => [t, t]);
  // the calibration needs both bare clusters SCHED_NONE, whatever --targets says
  if (!names.some(([n]) => n === 'cluster-none')) names.push(['cluster-none', 'cluster-none']);
  names.push([TWIN, 'cluster-none']);
  const inst: Instance[] = [];
  let warmupFailed = 0;
  const cells: PriceCell[] = [];
  try {
    for (const [name, target] of names) inst.push({ name, started: await ses.start(`${name}-w${workers}-pinned`, target, workers, { ...(wrap ? { wrap } : {}), session: true }) });
    const byName = new Map(inst.map((i) => [i.name, i]));
    ses.log(`price per core, W=${workers}: ${inst.map((i) => i.name).join(', ')} up (${plan.describe})`);
    const one = (i: Instance, load: WrkLoad, s: number): Promise<WrkRun[]> => runWrks(env.wrk, plan, [{ port: i.started.port, load, connections: cfg.connections }], s, env.live);
    for (const load of cfg.loads.filter((l): l is WrkLoad => (PRICE_LOADS as string[]).includes(l))) {
      if (cfg.warmupS > 0) {
        for (const i of inst) {
          ses.progress.set(`price W=${workers} ${load} warm-up: ${i.name}`);
          warmupFailed += wrkFailed((await one(i, load, cfg.warmupS))[0] as WrkRun);
        }
      }
      if (cfg.modes.includes('interleaved')) {
        const runs: Array<Record<string, WrkRun>> = [];
        for (let k = 0; k < cfg.priceRounds; k++) {
          const r: Record<string, WrkRun> = {};
          for (const i of roundOrder(inst, k)) {
            ses.progress.set(`price W=${workers} ${load} interleaved ${k + 1}/${cfg.priceRounds}: ${i.name}`);
            r[i.name] = (await one(i, load, cfg.priceDurationS))[0] as WrkRun;
          }
          runs.push(r);
        }
        cells.push(cellOf(load, workers, 'interleaved', runs));
      }
      if (cfg.modes.includes('paired')) {
        const pairs = PAIRS.filter(([a, b]) => byName.has(a) && byName.has(b));
        const runs: Array<Record<string, WrkRun>> = [];
        for (let k = 0; k < cfg.priceRounds; k++) {
          const r: Record<string, WrkRun> = {};
          for (const [a, b] of pairs) {
            ses.progress.set(`price W=${workers} ${load} paired ${k + 1}/${cfg.priceRounds}: ${a} beside ${b}`);
            const order = k % 2 === 0 ? [a, b] : [b, a];
            const got = await runWrks(env.wrk, plan, order.map((n) => ({ port: (byName.get(n) as Instance).started.port, load, connections: cfg.connections })), cfg.priceDurationS, env.live);
            order.forEach((n, j) => (r[`${a}|${b}:${n}`] = got[j] as WrkRun));
          }
          runs.push(r);
        }
        cells.push(cellOf(load, workers, 'paired', runs));
      }
      for (const c of cells.filter((x) => x.load === load && x.workers === workers)) {
        ses.log(`price W=${workers} ${load} ${c.mode}: ${c.ratios.map((x) => `${x.what} ${x.median ?? '-'}`).join(', ')}; wrk cpu ${c.loadgenCpu ?? '-'}, saturated rounds ${c.saturatedRounds}`);
      }
    }
  } finally {
    for (const i of inst) await ses.stop(i.started.s);
  }
  return { cells, warmupFailed };
}
