// A generation: one pool of cluster workers running one version of the app.
//
//   starting --all workers ready--> serving --drain()--> draining --last worker gone--> done
//       \--a worker failed / readyTimeout (the caller decides)--> abort() --> done
//
// Each generation drains on its own timer, so several may drain at once.
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { isBaton, msg, type FromWorker } from './messages';
import type { Logger } from './log';

export type GenerationState = 'starting' | 'serving' | 'draining' | 'done';
export type WorkerState = 'starting' | 'ready' | 'draining';

export interface WorkerSlot {
  worker: Worker;
  pid: number;
  state: WorkerState;
  /** Connections handed over and not yet acknowledged by the IPC channel. */
  inflight: number;
  startedAt: number;
  lastError?: string;
}

export interface GenerationOptions {
  workers: number;
  drainTimeout: number;
  /** Extra time after drainTimeout before a worker that did not exit is SIGKILLed. */
  killGrace?: number;
}

export interface GenerationEvents {
  ready: [];
  /** A worker exited before the generation was ready: the generation cannot start. */
  failed: [reason: string];
  'worker-forked': [slot: WorkerSlot];
  'worker-ready': [slot: WorkerSlot];
  'worker-exit': [slot: WorkerSlot, code: number | null, signal: string | null, expected: boolean];
  drained: [forced: number];
}

const BACKOFF_MIN = 100;
const BACKOFF_MAX = 10_000;
const STABLE_AFTER = 30_000;
// A worker leaving on its own signal is replaced after this pause, so that a signal sent
// to the whole process group (Ctrl-C) reaches the master before it forks anything.
const REPLACE_DELAY = 50;

export class Generation extends EventEmitter<GenerationEvents> {
  state: GenerationState = 'starting';
  readonly slots = new Map<number, WorkerSlot>();
  readonly startedAt = Date.now();
  private rr = 0;
  private crashes = 0;
  private lastCrash = 0;
  private respawnTimers = new Set<NodeJS.Timeout>();
  private killTimer: NodeJS.Timeout | undefined;
  private forcedKills = 0;

  constructor(readonly id: number, private opts: GenerationOptions, private log: Logger) {
    super();
  }

  start(): void {
    for (let i = 0; i < this.opts.workers; i++) this.fork();
  }

  pids(): number[] {
    return [...this.slots.values()].map((s) => s.pid);
  }

  readyCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state === 'ready') n++;
    return n;
  }

  /** Picks the ready worker with the fewest connections in transit (round robin on ties). */
  pick(): WorkerSlot | undefined {
    const ready = [...this.slots.values()].filter((s) => s.state === 'ready');
    if (ready.length === 0) return undefined;
    this.rr = (this.rr + 1) % ready.length;
    let best: WorkerSlot | undefined;
    for (let i = 0; i < ready.length; i++) {
      const s = ready[(this.rr + i) % ready.length] as WorkerSlot;
      if (best === undefined || s.inflight < best.inflight) best = s;
    }
    return best;
  }

  /** Hands an accepted socket to a worker; calls back false when it could not be sent. */
  send(slot: WorkerSlot, listener: string, socket: Socket, done: (ok: boolean) => void): void {
    slot.inflight++;
    try {
      slot.worker.send(msg({ type: 'conn', listener }), socket, { keepOpen: false }, (err: Error | null) => {
        slot.inflight--;
        done(!err);
      });
    } catch {
      slot.inflight--;
      done(false);
    }
  }

  markServing(): void {
    this.state = 'serving';
  }

  /** Tells every worker to drain; workers exit on their own, stragglers are killed. */
  drain(reason: string): void {
    if (this.state === 'draining' || this.state === 'done') return;
    this.state = 'draining';
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    for (const slot of this.slots.values()) this.drainWorker(slot, reason);
    this.killTimer = setTimeout(() => {
      for (const slot of this.slots.values()) {
        this.log.warn('worker-killed', `worker ${slot.pid} of generation ${this.id} did not exit within drainTimeout; killing it`, { workerPid: slot.pid });
        this.forcedKills++;
        slot.worker.process.kill('SIGKILL');
      }
    }, this.opts.drainTimeout + (this.opts.killGrace ?? 2_000));
    this.killTimer.unref();
    this.checkDone();
  }

  drainWorker(slot: WorkerSlot, reason: string): void {
    slot.state = 'draining';
    if (slot.worker.isConnected()) {
      try {
        slot.worker.send(msg({ type: 'drain', reason }));
      } catch {
        // channel gone: the exit handler takes over
      }
    }
  }

  /** Kills every worker at once (a generation that failed to start, or a forced stop). */
  abort(): void {
    this.state = 'draining';
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
    this.checkDone();
  }

  private fork(): void {
    const worker = cluster.fork({ BATON_GENERATION: String(this.id) });
    const pid = worker.process.pid ?? -1;
    const slot: WorkerSlot = { worker, pid, state: 'starting', inflight: 0, startedAt: Date.now() };
    this.slots.set(worker.id, slot);
    this.log.debug('worker-forked', `forked worker ${pid}`, { workerPid: pid });
    this.emit('worker-forked', slot);
    worker.on('message', (m: unknown) => this.onMessage(slot, m));
    worker.on('exit', (code, signal) => this.onExit(slot, code, signal));
    worker.on('error', () => {
      // EPIPE on a dying worker's channel: its 'exit' follows
    });
  }

  private onMessage(slot: WorkerSlot, m: unknown): void {
    if (!isBaton(m)) return;
    const message = m as FromWorker;
    switch (message.type) {
      case 'ready':
        if (slot.state !== 'starting') return;
        slot.state = 'ready';
        this.emit('worker-ready', slot);
        if (this.state === 'starting' && this.readyCount() === this.slots.size && this.slots.size === this.opts.workers) {
          this.emit('ready');
        }
        return;
      case 'draining':
        // The worker got a signal of its own (SIGTERM to the cgroup, say) and is leaving.
        if (slot.state === 'draining') return;
        slot.state = 'draining';
        this.log.info('worker-leaving', `worker ${slot.pid} is draining on its own (${message.reason}); replacing it`, { workerPid: slot.pid });
        this.respawn(true);
        return;
      case 'error':
        slot.lastError = message.message;
        return;
    }
  }

  private onExit(slot: WorkerSlot, code: number | null, signal: string | null): void {
    this.slots.delete(slot.worker.id);
    const expected = slot.state === 'draining' || this.state === 'draining' || this.state === 'done';
    this.emit('worker-exit', slot, code, signal, expected);
    if (this.state === 'starting') {
      const why = slot.lastError ?? `worker ${slot.pid} exited (${signal ?? `code ${code}`}) before it was ready`;
      this.emit('failed', why);
      return;
    }
    if (this.state === 'serving' && !expected) {
      this.log.warn('worker-died', `worker ${slot.pid} exited unexpectedly (${signal ?? `code ${code}`})${slot.lastError ? `: ${slot.lastError}` : ''}; replacing it`, { workerPid: slot.pid });
      this.respawn();
    }
    this.checkDone();
  }

  /** Forks a replacement, with exponential back-off after repeated crashes. */
  respawn(immediate = false): void {
    if (this.state !== 'serving') return;
    const now = Date.now();
    if (!immediate) {
      if (now - this.lastCrash > STABLE_AFTER) this.crashes = 0;
      this.lastCrash = now;
      this.crashes++;
    }
    const delay = immediate ? REPLACE_DELAY : Math.min(BACKOFF_MIN * 2 ** (this.crashes - 1), BACKOFF_MAX);
    const t = setTimeout(() => {
      this.respawnTimers.delete(t);
      if (this.state === 'serving') this.fork();
    }, delay);
    this.respawnTimers.add(t);
  }

  private checkDone(): void {
    if (this.state !== 'draining' || this.slots.size > 0) return;
    this.state = 'done';
    if (this.killTimer) clearTimeout(this.killTimer);
    this.emit('drained', this.forcedKills);
  }
}
