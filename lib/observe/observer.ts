// The master's observer: it feeds BatonMetrics from what the master's workers report and what
// the master does, and records each upgrade and reload in `baton history`.
//
// Why apart from the master: the master decides; this only watches (the workers' 'requests'
// deltas, the master's events). Gauges are read from the generations at each render. A new master
// starts from the old one's counters (`inherited`, sent over the upgrade channel again and again
// while the old one drains: the latest replaces the one before), so `rate()` sees no reset.
import cluster, { type Worker } from 'node:cluster';
import * as path from 'node:path';
import { isBaton } from '../messages';
import type { Logger } from '../log/log';
import { BatonMetrics, type MetricsSnapshot, type RestartReason } from './metrics';
import { isRequestDelta } from './request-stats';
import { appendHistory, historyPath, isSide, type HistoryKind, type HistoryResult, type HistorySide, type HistoryTrigger } from './history';

/** A generation as the observer sees it (lib/pool/generation.ts). */
export interface ObservedGeneration {
  readonly id: number;
  readonly state: string;
  readonly slots: ReadonlyMap<number, { readonly state: string; readonly connections: number; readonly leaving: boolean }>;
  readonly loaded?: { script: string } | undefined;
  readonly probation?: { readonly active: boolean } | undefined;
}

/** The master as lib/observe/ sees it: its state (lib/master/states.ts), its generations and its events. */
export interface ObservedMaster {
  readonly state: string;
  readonly generations: ReadonlyMap<number, ObservedGeneration>;
  readonly serving: ObservedGeneration | undefined;
  on(event: string, fn: (info: any) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Change {
  trigger: HistoryTrigger;
  at: number;
  from: HistorySide | undefined;
  to: HistorySide | undefined;
}

/** Which restart a replaced worker's reason names (lib/pool/slot.ts overLimit()). */
export function restartReason(why: string): RestartReason {
  if (/heartbeat|workerTimeout/.test(why)) return 'hung';
  if (/maxMemory/.test(why)) return 'memory';
  if (/maxRequests/.test(why)) return 'requests';
  return 'crashed';
}

/** rolled_back: probation rolled it back (it served); failed: it never got as far. */
export function changeResult(reason: string): HistoryResult {
  return /probation/.test(reason) ? 'rolled_back' : 'failed';
}

export class Observer {
  readonly metrics = new BatonMetrics();
  /** The old master's counters (a MetricsSnapshot), the latest it sent; what this one adds goes on top. */
  inherited: unknown;
  private trigger: HistoryTrigger = 'api';
  /** The upgrade and the reload in progress, for the history. */
  private readonly changes: Partial<Record<HistoryKind, Change>> = {};
  /** A worker's report: its delta, added to the generation the worker belongs to. */
  private readonly onMessage = (worker: Worker, m: unknown): void => {
    const delta = isBaton(m) && m.type === 'requests' ? (m as { delta?: unknown }).delta : undefined;
    if (!isRequestDelta(delta)) return;
    const g = [...this.m.generations.values()].find((x) => x.slots.has(worker.id));
    if (g !== undefined) this.metrics.addRequests(g.id, delta);
  };

  constructor(private readonly m: ObservedMaster, private readonly pidFile: string | undefined, private readonly log: Logger) {}

  /** Follows the workers' reports and the master's events. */
  start(): void {
    cluster.on('message', this.onMessage);
    const m = this.m;
    m.on('serving', ({ generation }) => this.metrics.addGeneration(generation));
    m.on('reload-started', ({ generation }) => {
      this.metrics.addGeneration(generation);
      this.changes.reload = this.begin(this.sideOf(generation));
    });
    // what the new master runs, it says later (upgradeTo())
    m.on('upgrade-started', ({ pid }) => (this.changes.upgrade = this.begin({ release: '', node: 'unknown', generation: 0, pid })));
    for (const kind of ['reload', 'upgrade'] as const) {
      m.on(`${kind}-succeeded`, () => this.end(kind, 'succeeded'));
      m.on(`${kind}-failed`, ({ reason }) => this.end(kind, changeResult(reason), reason));
    }
    m.on('worker-exit', ({ generation, expected }) => {
      const g = m.generations.get(generation);
      if (!expected && g?.state === 'serving' && g.probation?.active !== true) this.metrics.workerRestarts.inc({ reason: 'crashed' });
    });
    m.on('worker-replaced', ({ reason }) => this.metrics.workerRestarts.inc({ reason: restartReason(String(reason)) }));
    m.on('drain-forced', ({ connections }) => this.metrics.drainForced.inc(undefined, Number(connections) || 0));
  }

  stop(): void {
    cluster.off('message', this.onMessage);
  }

  /** Runs `fn` (a call of upgrade() or reload()) as asked by `t`: what the history records. */
  triggeredBy<T>(t: HistoryTrigger, fn: () => T): T {
    this.trigger = t;
    try {
      return fn();
    } finally {
      this.trigger = 'api';
    }
  }

  /** A SIGUSR2 or SIGHUP arrived: the change its handler starts now was triggered by a signal. */
  signalled(): void {
    this.trigger = 'signal';
    setImmediate(() => (this.trigger = 'api'));
  }

  /** Counters and histograms, this master's and those it inherited: for the next master. */
  snapshot(): MetricsSnapshot {
    return this.combined().snapshot();
  }

  /** The Prometheus text of `GET /metrics` and `baton metrics`. */
  render(): string {
    const out = this.combined();
    this.gauges(out);
    return out.render();
  }

  private combined(): BatonMetrics {
    if (this.inherited === undefined) return this.metrics;
    const out = new BatonMetrics();
    out.restore(this.metrics.snapshot());
    out.restore(this.inherited);
    return out;
  }

  private gauges(out: BatonMetrics): void {
    for (const f of [out.workers, out.connections, out.generationInfo]) f.clear();
    for (const g of this.m.generations.values()) {
      if (g.state === 'done') continue;
      const generation = g.id;
      const workers = { starting: 0, serving: 0, draining: 0 };
      const connections = { open: 0, draining: 0 };
      for (const s of g.slots.values()) {
        const leaving = g.state === 'draining' || s.state === 'draining' || s.leaving;
        workers[leaving ? 'draining' : s.state === 'ready' ? 'serving' : 'starting']++;
        connections[leaving ? 'draining' : 'open'] += s.connections;
      }
      for (const [state, n] of Object.entries(workers)) out.workers.set({ generation, state }, n);
      for (const [state, n] of Object.entries(connections)) out.connections.set({ generation, state }, n);
      out.generationInfo.set({ generation, release: releaseOf(g), node: process.version }, 1);
    }
  }

  /** What generation `id` of this master runs (a new master tells the old one, for its history). */
  sideOf(id: number | undefined): HistorySide | undefined {
    const g = id === undefined ? undefined : this.m.generations.get(id);
    return g === undefined ? undefined : { node: process.version, pid: process.pid, generation: g.id, release: releaseOf(g) };
  }

  /** The upgrade in progress: what its new master said it runs (checked). */
  upgradeTo(side: unknown): void {
    if (this.changes.upgrade && isSide(side)) this.changes.upgrade.to = { release: side.release, node: side.node, generation: side.generation, ...(side.pid !== undefined ? { pid: side.pid } : {}) };
  }

  /** A change from what this master serves now. */
  private begin(to: HistorySide | undefined): Change {
    return { trigger: this.trigger, at: Date.now(), from: this.sideOf(this.m.serving?.id), to };
  }

  private end(kind: HistoryKind, result: HistoryResult, reason?: string): void {
    this.metrics[kind === 'upgrade' ? 'upgrades' : 'reloads'].inc({ result });
    // failed before it started (a spawn error): recorded from now
    const c = this.changes[kind] ?? this.begin(undefined);
    delete this.changes[kind];
    if (this.pidFile === undefined || c.from === undefined) return;
    const to = c.to && c.to.generation > 0 ? c.to : undefined;
    try {
      appendHistory(historyPath(this.pidFile), {
        at: new Date(c.at).toISOString(), kind, trigger: c.trigger, from: c.from, ...(to ? { to } : {}), result,
        ...(reason !== undefined ? { reason } : {}), durationMs: Date.now() - c.at,
      });
    } catch (err) {
      this.log.warn('history-failed', `cannot record the ${kind} in ${historyPath(this.pidFile)}: ${(err as Error).message}`);
    }
  }
}

function releaseOf(g: ObservedGeneration): string {
  return g.loaded ? path.dirname(g.loaded.script) : '';
}
