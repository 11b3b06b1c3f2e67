// The soak's checks (docs/benchmarks.md, "Soak checks"): after each upgrade and reload of the
// upgrade phase, the serving master's open fds and its RSS (read by bench/procfs.ts); at the
// end, the processes left behind (found by bench/strays.ts). Their summary and goals.
import { now } from './common';
import { fdKinds, rssKiB, steadyFds } from './procfs';
import { median } from './stats';

/** One reading of the serving master, taken once an upgrade (reload) has completed. */
export interface SoakSample {
  /** The event it follows (1-based per kind, as in events[]). */
  kind: 'upgrade' | 'reload';
  index: number;
  /** The master that served then, and whether it is the one the bench started (not upgraded into). */
  master: number;
  cold: boolean;
  /** ms since the upgrade phase's load started. */
  at: number;
  /** Open fds other than TCP connections (the steady count, see steadyFds); null when /proc/<pid> could not be read. */
  fds: number | null;
  /** TCP connections it held through the last window of readings (passing through to a worker, or a leak). */
  connFds: number | null;
  /** All open fds, the minimum over that window. */
  totalFds: number | null;
  /** VmRSS in KiB, read at the end of the fd readings; null when unreadable. */
  rssKiB: number | null;
  /**
   * What the fds were in one more reading right after (its count may differ from `fds` by what
   * was passing through): by kind, a TCP socket with its state ("tcp LISTEN"), "unix", "pipe",
   * "anon_inode:[eventfd]", a file's path, ...
   */
  fdKinds: Record<string, number>;
}

export interface SoakSummary {
  samples: SoakSample[];
  /**
   * Over the samples compared (every sample of an upgraded master; the bench's own first master
   * only while no upgrade completed): first, last, min and max. null without a sample.
   */
  fds: { first: number | null; last: number | null; min: number | null; max: number | null; baseline: string };
  /** The most TCP connections a sample found held through a whole window of readings, and the bound (--connections). */
  connFds: { max: number | null; bound: number };
  /** Over the same samples; bound = RSS_MAX_FACTOR x first; slopePerUpgrade: see RSS_SLOPE_BOUND_KIB (null: under RSS_TREND_MIN upgrades). */
  rssKiB: { first: number | null; last: number | null; max: number | null; bound: number | null; slopePerUpgrade: number | null; slopeBound: number; slopeSamples: number };
  /** Pids that ran when they should not have: before baton's stop, besides its serving generation; after it, any. */
  leftoverPids: number[];
  leftover: { beforeStop: number[]; afterStop: number[] };
}

/** Samples the serving master; `base` is the epoch ms the upgrade phase's `at` counts from. */
export async function sampleMaster(kind: 'upgrade' | 'reload', index: number, master: number, cold: boolean, base: number): Promise<SoakSample> {
  const f = await steadyFds(master);
  const rss = rssKiB(master);
  return {
    kind, index, master, cold, at: Math.round((now() - base) * 100) / 100,
    fds: f?.fds ?? null, connFds: f?.connections ?? null, totalFds: f?.total ?? null, rssKiB: rss, fdKinds: fdKinds(master),
  };
}

/** No sample of the serving master's RSS may exceed this multiple of the first (runaway growth). */
export const RSS_MAX_FACTOR = 1.5;
/**
 * The trend: the repeated-median slope (Siegel: for each sample the median of its slopes to all
 * the others, then the median of those; half the samples may be off before it moves) of the RSS
 * sampled right after each upgrade, against the upgrade's number, in KiB per upgrade. Each of
 * those samples is of a new master at about the same age, so they compare like with like (a
 * sample after a reload is of a master that has served longer). A fresh master's RSS moves by
 * several MiB from one upgrade to the next while the machine is busy with something else (and
 * the first upgrades of a run often read a few MiB higher), as much as a leak of 100 KiB per
 * upgrade adds over 100 upgrades, so no bound on single samples tells the two apart; the slope
 * over many does. On this machine, without a leak, it came out between -12 and +3 KiB per upgrade
 * over 100 upgrades, and 88 to 103 with 100 KiB added per upgrade. The bound is half the 100 KiB
 * the issue names; under RSS_TREND_MIN upgrades the slope is noise and the goal is n/a.
 */
export const RSS_SLOPE_BOUND_KIB = 50;
export const RSS_TREND_MIN = 50;

/** Siegel's repeated-median slope of y over x (distinct x); null with fewer than two points. */
export function repeatedMedianSlope(points: Array<[number, number]>): number | null {
  if (points.length < 2) return null;
  return median(points.map(([xi, yi], i) => median(points.filter((_, j) => j !== i).map(([xj, yj]) => (yj - yi) / (xj - xi)))));
}

export interface SoakGoal {
  what: string;
  value: number | null;
  target: string;
  met: boolean;
}

/** The summary of the samples, and the goals they are held to. */
export function summarizeSoak(samples: SoakSample[], leftover: { beforeStop: number[]; afterStop: number[] }, connections: number): { summary: SoakSummary; goals: SoakGoal[] } {
  // Like with like: the bench's own first master was started differently (it bound the
  // sockets itself, its stdio comes from the bench) from every master an upgrade started (the
  // sockets inherited at fd 4 on, fd 3 its channel to the old master, closed once that one is
  // gone). Once an upgrade completed, only upgraded masters serve; the first of their samples
  // is the baseline. Without a completed upgrade, the first master's own first sample is.
  const upgraded = samples.filter((s) => !s.cold);
  const compared = upgraded.length > 0 ? upgraded : samples;
  const baseline = compared[0];
  const fdNums = compared.map((s) => s.fds).filter((x): x is number => x !== null);
  const rssNums = compared.map((s) => s.rssKiB).filter((x): x is number => x !== null);
  const connNums = samples.map((s) => s.connFds).filter((x): x is number => x !== null);
  const connMax = connNums.length ? Math.max(...connNums) : null;
  const firstRss = baseline?.rssKiB ?? null;
  const rssMax = rssNums.length ? Math.max(...rssNums) : null;
  const bound = firstRss === null ? null : Math.round(firstRss * RSS_MAX_FACTOR);
  const trend = compared.filter((s) => s.kind === 'upgrade' && !s.cold && s.rssKiB !== null).map((s) => [s.index, s.rssKiB as number] as [number, number]);
  const slope = trend.length >= RSS_TREND_MIN ? repeatedMedianSlope(trend) : null;
  const slopeRounded = slope === null ? null : Math.round(slope * 10) / 10;
  const leftoverPids = [...new Set([...leftover.beforeStop, ...leftover.afterStop])];
  const summary: SoakSummary = {
    samples,
    fds: {
      first: baseline?.fds ?? null,
      last: compared[compared.length - 1]?.fds ?? null,
      min: fdNums.length ? Math.min(...fdNums) : null,
      max: fdNums.length ? Math.max(...fdNums) : null,
      baseline: baseline === undefined ? 'none' : `${baseline.kind} ${baseline.index} (master ${baseline.master}${baseline.cold ? ', the first master' : ', upgraded'})`,
    },
    connFds: { max: connMax, bound: connections },
    rssKiB: { first: firstRss, last: compared[compared.length - 1]?.rssKiB ?? null, max: rssMax, bound, slopePerUpgrade: slopeRounded, slopeBound: RSS_SLOPE_BOUND_KIB, slopeSamples: trend.length },
    leftoverPids,
    leftover,
  };
  // every sample is held to the first of its kind of master (the first master's samples,
  // taken only while no upgrade has completed, to its own first)
  const firstCold = samples.find((s) => s.cold);
  const differing = samples.filter((s) => s.fds === null || s.fds !== (s.cold ? firstCold : baseline)?.fds).length;
  const rssUnreadable = samples.some((s) => s.rssKiB === null);
  const none = samples.length === 0;
  const goals: SoakGoal[] = [
    {
      what: 'serving master\'s fd count (without TCP connections) after each upgrade/reload: samples not equal to the first',
      value: none ? null : differing,
      target: '= 0',
      met: differing === 0,
    },
    {
      // each client loop has at most one connection waiting to be handed to a worker: a master
      // that holds more through a whole window keeps connections it has passed on
      what: 'serving master\'s TCP connections held through a window of readings: max over the samples',
      value: connMax,
      target: `<= ${connections} (--connections)`,
      met: none || (connMax !== null && connNums.length === samples.length && connMax <= connections),
    },
    {
      what: 'serving master\'s RSS after each upgrade/reload: max / first sample',
      value: firstRss === null || rssMax === null ? null : Math.round((rssMax / firstRss) * 1000) / 1000,
      target: `<= ${RSS_MAX_FACTOR}`,
      met: none || (!rssUnreadable && bound !== null && rssMax !== null && rssMax <= bound),
    },
    {
      what: `serving master's RSS after each upgrade: trend, KiB per upgrade (repeated median slope; n/a under ${RSS_TREND_MIN} upgrades)`,
      value: slopeRounded,
      target: `<= ${RSS_SLOPE_BOUND_KIB}`,
      met: slope === null || slope <= RSS_SLOPE_BOUND_KIB,
    },
    {
      what: 'processes left running (besides the serving generation before the stop; any after it)',
      value: leftoverPids.length,
      target: '= 0',
      met: leftoverPids.length === 0,
    },
  ];
  return { summary, goals };
}
