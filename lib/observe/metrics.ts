// baton's own metrics: the families of issue 12, their label values, how a worker's delta
// lands in them, and their hand-over to the next master.
//
// Why one place: the master, the control socket's `baton metrics` and the hand-over to the
// next master must agree on names, labels and which series exist from the start. Counters of
// known label values start at 0 (a series that appears only at its first increment hides the
// first increase from `rate()`/`increase()`). Counters and histograms go on across upgrades:
// the old master's snapshot() is JSON that the new master restore()s, so `rate()` sees no reset.
import { Histogram, isHistogramData, type HistogramData } from './histogram';
import { render } from './prometheus';
import { Counter, Gauge, HistogramFamily, type AnyFamily } from './registry';
import { STATUS_CLASSES, type ClassCounts, type RequestDelta } from './request-stats';
import { RESULTS } from './history';

/** Why a worker was replaced: it died, hung (workerTimeout), or was recycled (maxMemory, maxRequests). */
const RESTART_REASONS = ['crashed', 'hung', 'memory', 'requests'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** One generation's responses: by class, and their latency (cumulative, or a window). */
export interface Tally {
  codes: Required<ClassCounts>;
  latency: Histogram;
  /** How many responses of its workers' warm-up were left out of `codes` and `latency` (the canary's tally). */
  left: number;
}

export function emptyTally(): Tally {
  return { codes: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, latency: new Histogram(), left: 0 };
}

/** `now` minus `base`: what a generation served between two readings (the probation window). */
export function tallySince(now: Tally, base: Tally): Tally {
  const t = emptyTally();
  for (const c of STATUS_CLASSES) t.codes[c] = Math.max(0, now.codes[c] - base.codes[c]);
  t.latency = now.latency.minus(base.latency);
  t.left = Math.max(0, now.left - base.left);
  return t;
}

/** What an old master hands the new one: every counter and histogram series, as JSON. */
export interface MetricsSnapshot {
  version: 1;
  counters: Array<{ name: string; labels: Record<string, string>; value: number }>;
  histograms: Array<{ name: string; labels: Record<string, string>; value: HistogramData }>;
}

export class BatonMetrics {
  readonly requests = new Counter('baton_requests_total', 'Responses served, by generation and status class (code: 1xx to 5xx).', ['generation', 'code']);
  readonly duration = new HistogramFamily('baton_request_duration_seconds', 'Time from a request\'s headers to its response\'s last byte, by generation.', ['generation']);
  readonly connections = new Gauge('baton_connections', 'Open connections of each generation\'s workers (state: open, draining).', ['generation', 'state']);
  readonly workers = new Gauge('baton_workers', 'Workers of each generation (state: starting, serving, draining).', ['generation', 'state']);
  readonly workerRestarts = new Counter('baton_worker_restarts_total', 'Workers replaced (reason: crashed, hung, memory, requests).', ['reason']);
  readonly upgrades = new Counter('baton_upgrades_total', 'Upgrades (a new master) by result: succeeded, rolled_back, failed.', ['result']);
  readonly reloads = new Counter('baton_reloads_total', 'Reloads (a new generation) by result: succeeded, rolled_back, failed.', ['result']);
  readonly generationInfo = new Gauge('baton_generation_info', '1 for each generation this master runs, with its release path and Node version.', ['generation', 'release', 'node']);
  readonly drainForced = new Counter('baton_drain_forced_total', 'Connections closed by force at drainTimeout.');
  /** Each generation's warm-up responses (its workers' first `warmup` ms): counted above, left out of tally(). */
  private readonly warm = new Map<number, Tally>();
  /** In the order they are rendered. */
  private readonly families: readonly AnyFamily[] = [
    this.requests, this.duration, this.connections, this.workers, this.workerRestarts, this.upgrades, this.reloads, this.generationInfo, this.drainForced,
  ];

  constructor() {
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
    if (d.warm === undefined) return;
    const w = this.warm.get(generation) ?? emptyTally();
    this.warm.set(generation, w);
    for (const code of STATUS_CLASSES) w.codes[code] += d.warm.codes[code] ?? 0;
    w.latency.merge(d.warm.latency);
  }

  /**
   * A generation's responses so far but its workers' warm-up, and how many that left out: what the
   * canary judges (a copy; one at the start of probation, one at its end). This master's own counts
   * only: a generation is one master's.
   */
  tally(generation: number): Tally {
    const t = emptyTally();
    for (const code of STATUS_CLASSES) t.codes[code] = this.requests.get({ generation, code });
    t.latency.merge(this.duration.get({ generation }) ?? new Histogram());
    const w = this.warm.get(generation);
    return w === undefined ? t : { ...tallySince(t, w), left: w.latency.count };
  }

  /** The text of `GET /metrics` and `baton metrics`. */
  render(): string {
    return render(this.families);
  }

  /** Counters and histograms as JSON (gauges describe the present: the new master sets its own). */
  snapshot(): MetricsSnapshot {
    const snap: MetricsSnapshot = { version: 1, counters: [], histograms: [] };
    for (const f of this.families) {
      const labels = (values: readonly string[]): Record<string, string> => Object.fromEntries(f.labelNames.map((n, i) => [n, values[i]]));
      if (f.type === 'counter') for (const s of f.all()) snap.counters.push({ name: f.name, labels: labels(s.values), value: s.value });
      else if (f.type === 'histogram') for (const s of f.all()) snap.histograms.push({ name: f.name, labels: labels(s.values), value: s.value.toData() });
    }
    return snap;
  }

  /**
   * Adds a snapshot's counts to these (a new master starts from the old one's totals). What does
   * not fit is skipped, never thrown: a family this release does not have, other label names (an
   * older or newer baton), a malformed value. Returns how many series were skipped.
   */
  restore(snap: unknown): number {
    if (typeof snap !== 'object' || snap === null || (snap as { version?: unknown }).version !== 1) return 0;
    const s = snap as Partial<MetricsSnapshot>;
    const family = (name: unknown, labels: unknown, type: string): AnyFamily | undefined => {
      const f = this.families.find((x) => x.name === name && x.type === type);
      if (f === undefined || typeof labels !== 'object' || labels === null) return undefined;
      const keys = Object.keys(labels);
      const fits = keys.length === f.labelNames.length && keys.every((k) => f.labelNames.includes(k) && typeof (labels as Record<string, unknown>)[k] === 'string');
      return fits ? f : undefined;
    };
    let skipped = 0;
    for (const c of Array.isArray(s.counters) ? s.counters : []) {
      const f = family(c?.name, c?.labels, 'counter') as Counter | undefined;
      if (f === undefined || typeof c.value !== 'number' || !(c.value >= 0) || !Number.isFinite(c.value)) skipped++;
      else f.inc(c.labels, c.value);
    }
    for (const h of Array.isArray(s.histograms) ? s.histograms : []) {
      const f = family(h?.name, h?.labels, 'histogram') as HistogramFamily | undefined;
      if (f === undefined || !isHistogramData(h.value)) skipped++;
      else f.merge(h.labels, h.value);
    }
    return skipped;
  }
}
