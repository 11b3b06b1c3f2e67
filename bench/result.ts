// The result of a bench run, as written to bench/results/<timestamp>.json (and printed with
// --json), and the machine it ran on. docs/benchmarks.md, "The JSON", tells each field.
import * as os from 'node:os';
import type { Failure } from './failures';
import type { Config } from './flags';
import type { Goal } from './goals';
import type { LoadSpec, TargetName } from './loads';
import type { Cell, RatioRow } from './matrix';
import type { PriceResult } from './price';
import type { SoakSummary } from './soak';
import { round, type TargetStats } from './stats';
import type { BenchEvent, EventStats } from './takeover';
import type { Segment, TimelineEntry } from './upgrades';

export interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  uname: string;
  loadavgStart: number[];
  loadavgEnd: number[];
}

export function machine(): Machine {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    uname: `${os.type()} ${os.hostname()} ${os.release()} ${os.version()} ${os.machine()}`,
    loadavgStart: os.loadavg().map((x) => round(x)),
    loadavgEnd: [],
  };
}

export interface BenchResult {
  bench: 'baton';
  /** 3: the price-per-core matrix with wrk (2: the Node client's matrix of targets x worker counts x loads; 1: one load, one worker count). */
  version: 3;
  startedAt: string;
  finishedAt: string;
  wallS: number;
  command: string;
  machine: Machine;
  config: Omit<Config, 'json' | 'outDir' | 'dist'>;
  /** The baton build that ran. */
  dist: string;
  /** Requests that did not get a complete 2xx response, over every load run of the bench (warm-ups included). */
  failedRequests: number;
  /** The first 200 requests that did not get a complete 2xx response. */
  failures: Failure[];
  accounting: { requests: number; answered2xx: number; non2xx: number; errors: number; inflight: number };
  /** The steady matrix's load generator: wrk (the price-per-core matrix) or the bench's own Node client only (wrk missing, or --client node). */
  client: 'wrk' | 'node';
  /** The price-per-core matrix (bench/price.ts); null without wrk. */
  price: PriceResult | null;
  /** The Node client's matrix: a cell per target, worker count and load; baton's ratios to the peers (with wrk: baton alone at W = cores). */
  steady: { loads: LoadSpec[]; workersSet: number[]; targets: TargetName[]; rounds: number; cells: Cell[]; ratios: RatioRow[] };
  /** Unmeasured warm-ups, by "<target> x<W> <load>". */
  warmups: Record<string, TargetStats>;
  /** The upgrade phase: a segment per load; windows over all of them. */
  upgradePhase: { workers: number; segments: Segment[]; windows: { duringUpgrades: TargetStats; duringReloads: TargetStats } };
  boot: { workers: number; bareIdleMs: number[]; bareIdleMedianMs: number; bareUnderLoadMs: number | null; batonColdMs: number | null };
  events: BenchEvent[];
  /** What the baton masters said during the upgrade phase (ms from the start of each segment). */
  timeline: TimelineEntry[];
  eventSummary: { upgrades: EventStats; reloads: EventStats };
  goals: Goal[];
  /** The serving master after each upgrade and reload (fds, RSS), and the processes left behind. */
  soak: SoakSummary;
  serverStderr: string[];
  /** The same as soak.leftoverPids. */
  leftoverPids: number[];
  files: { json: string; svg: string };
  exitCode: number;
}
