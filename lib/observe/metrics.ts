// baton's own metrics: the families of issue 12, their label values, and how a worker's
// delta lands in them.
//
// Why one place: the master, the control socket's `baton metrics` and the hand-over to the
// next master must agree on names, labels and which series exist from the start. Counters of
// known label values start at 0 (a series that appears only at its first increment hides the
// first increase from `rate()`/`increase()`).
import { Histogram } from './histogram';
import { render } from './prometheus';
import { Registry, type Counter, type Gauge, type HistogramFamily, type RegistrySnapshot } from './registry';
import { STATUS_CLASSES, type ClassCounts, type RequestDelta } from './request-stats';
import { RESULTS } from './history';

/** Why a worker was replaced: it died, hung (workerTimeout), or was recycled (maxMemory, maxRequests). */
export type RestartReason = 'crashed' | 'hung' | 'memory' | 'requests';
export const RESTART_REASONS: readonly RestartReason[] = ['crashed', 'hung', 'memory', 'requests'];
export type ConnectionState = 'open' | 'draining';
export type WorkerState = 'starting' | 'serving' | 'draining';

/** One generation's responses: by class, and their latency (cumulative, or a window). */
export interface Tally {
  codes: Required<ClassCounts>;
  latency: Histogram;
}

export function emptyTally(): Tally {
  return { codes: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, latency: new Histogram() };
}

/** `now` minus `base`: what a generation served between two readings (the probation window). */
export function tallySince(now: Tally, base: Tally): Tally {
  const t = emptyTally();
  for (const c of STATUS_CLASSES) t.codes[c] = Math.max(0, now.codes[c] - base.codes[c]);
  t.latency = now.latency.minus(base.latency);
  return t;
}

export class BatonMetrics {
  readonly registry = new Registry();
  readonly requests: Counter;
  readonly duration: HistogramFamily;
  readonly connections: Gauge;
  readonly workers: Gauge;
  readonly workerRestarts: Counter;
  readonly upgrades: Counter;
  readonly reloads: Counter;
  readonly generationInfo: Gauge;
  readonly drainForced: Counter;

  constructor() {
    const r = this.registry;
    this.requests = r.counter({ name: 'baton_requests_total', help: 'Responses served, by generation and status class (code: 1xx to 5xx).', labels: ['generation', 'code'] });
    this.duration = r.histogram({ name: 'baton_request_duration_seconds', help: 'Time from a request\'s headers to its response\'s last byte, by generation.', labels: ['generation'] });
    this.connections = r.gauge({ name: 'baton_connections', help: 'Open connections of each generation\'s workers (state: open, draining).', labels: ['generation', 'state'] });
    this.workers = r.gauge({ name: 'baton_workers', help: 'Workers of each generation (state: starting, serving, draining).', labels: ['generation', 'state'] });
    this.workerRestarts = r.counter({ name: 'baton_worker_restarts_total', help: 'Workers replaced (reason: crashed, hung, memory, requests).', labels: ['reason'] });
    this.upgrades = r.counter({ name: 'baton_upgrades_total', help: 'Upgrades (a new master) by result: succeeded, rolled_back, failed.', labels: ['result'] });
    this.reloads = r.counter({ name: 'baton_reloads_total', help: 'Reloads (a new generation) by result: succeeded, rolled_back, failed.', labels: ['result'] });
    this.generationInfo = r.gauge({ name: 'baton_generation_info', help: '1 for each generation this master runs, with its release path and Node version.', labels: ['generation', 'release', 'node'] });
    this.drainForced = r.counter({ name: 'baton_drain_forced_total', help: 'Connections closed by force at drainTimeout.' });
    for (const result of RESULTS) {
      this.upgrades.inc({ result }, 0);
      this.reloads.inc({ result }, 0);
    }
    for (const reason of RESTART_REASONS) this.workerRestarts.inc({ reason }, 0);
    this.drainForced.inc(undefined, 0);
  }

  /** A generation starts: its request series exist from now on, at 0. */
  addGeneration(generation: number): void {
    for (const code of STATUS_CLASSES) this.requests.inc({ generation, code }, 0);
    this.duration.merge({ generation }, new Histogram());
  }

  /** A worker's delta (RequestStats.takeDelta(), checked with isRequestDelta) for its generation. */
  addRequests(generation: number, d: RequestDelta): void {
    for (const code of STATUS_CLASSES) {
      const n = d.codes[code];
      if (n !== undefined && n > 0) this.requests.inc({ generation, code }, n);
    }
    this.duration.merge({ generation }, d.latency);
  }

  /** A generation's totals so far (a copy): take one at the start of probation and one at its end. */
  tally(generation: number): Tally {
    const t = emptyTally();
    for (const code of STATUS_CLASSES) t.codes[code] = this.requests.get({ generation, code });
    const h = this.duration.get({ generation });
    if (h) t.latency = h.clone();
    return t;
  }

  /** The text of `GET /metrics` and `baton metrics`. */
  render(): string {
    return render(this.registry.all());
  }

  snapshot(): RegistrySnapshot {
    return this.registry.snapshot();
  }

  /** Adds an old master's snapshot; returns how many series did not fit (skipped). */
  restore(snap: unknown): number {
    return this.registry.restore(snap);
  }
}
