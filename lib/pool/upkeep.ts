// A serving generation keeps `target` workers alive: it replaces workers that die (with
// the crash back-off of lib/pool/backoff.ts), hang (no heartbeat for workerTimeout) or
// outgrow their limits (maxMemory, maxRequests: the replacement first, then the old worker
// drains). The generation (lib/pool/generation.ts) says when a worker died or left; this
// file decides when its replacement is forked.
import { Backoff } from './backoff';
import { heartbeatInterval, overLimit, type Limits, type WorkerSlot } from './slot';
import type { Logger } from '../log/log';

// A worker leaving on its own signal is replaced after this pause, so that a signal sent
// to the whole process group (Ctrl-C) reaches the master before it forks anything.
const REPLACE_DELAY = 50;

/** What the upkeep asks of its generation. */
export interface UpkeepPool {
  readonly state: string;
  readonly target: number;
  readonly slots: Map<number, WorkerSlot>;
  restarts: number;
  readyCount(): number;
  fork(): void;
  drainWorker(slot: WorkerSlot, reason: string): void;
  /** A worker is replaced (hung or recycled): for the master's 'worker-replaced' event. */
  emit(event: 'worker-replaced', slot: WorkerSlot, why: string): boolean;
}

export class Upkeep {
  private readonly backoff = new Backoff();
  private respawnTimers = new Set<NodeJS.Timeout>();
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly pool: UpkeepPool, private readonly limits: Limits, private readonly log: Logger) {}

  /** Heartbeats and limits are watched only when an option asks for it. */
  start(): void {
    const o = this.limits;
    if (o.workerTimeout <= 0 && o.maxMemory <= 0 && o.maxRequests <= 0) return;
    this.watchTimer = setInterval(() => this.watch(), heartbeatInterval(o.workerTimeout)).unref();
  }

  stop(): void {
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    clearInterval(this.watchTimer);
  }

  /** Workers that count towards the target: alive, not draining, not being replaced. */
  staying(): number {
    let n = 0;
    for (const s of this.pool.slots.values()) if (s.state !== 'draining' && !s.leaving) n++;
    return n + this.respawnTimers.size;
  }

  /** Forks a replacement, with exponential back-off after repeated crashes. */
  respawn(immediate = false): void {
    if (this.pool.state !== 'serving' || this.staying() >= this.pool.target) return;
    this.pool.restarts++;
    const delay = immediate ? REPLACE_DELAY : this.backoff.next();
    if (delay > 1_000) this.log.warn('worker-backoff', `workers keep dying: next one in ${delay} ms`);
    const t = setTimeout(() => {
      this.respawnTimers.delete(t);
      if (this.pool.state === 'serving' && this.staying() < this.pool.target) this.pool.fork();
    }, delay);
    this.respawnTimers.add(t);
  }

  /** Once a replacement is ready, recycled workers drain. */
  retireReplaced(): void {
    for (const slot of this.pool.slots.values()) {
      if (slot.leaving && slot.state === 'ready' && this.pool.readyCount() >= this.pool.target) this.pool.drainWorker(slot, 'recycled');
    }
  }

  /** Heartbeats and limits of serving workers. */
  private watch(): void {
    if (this.pool.state !== 'serving') return;
    const now = Date.now();
    for (const slot of this.pool.slots.values()) {
      if (slot.state !== 'ready' || slot.leaving) continue;
      const over = overLimit(slot, this.limits, now);
      if (over) this.replace(slot, over.why, over.hung);
    }
  }

  /**
   * Replaces a worker: a new one is forked first. A hung worker is killed at once (it
   * cannot drain); a recycled one drains once its replacement is ready.
   */
  private replace(slot: WorkerSlot, why: string, hung: boolean): void {
    slot.leaving = true;
    this.log.warn(hung ? 'worker-hung' : 'worker-recycled', `worker ${slot.pid} is replaced: ${why}`, { workerPid: slot.pid });
    this.pool.emit('worker-replaced', slot, why);
    this.pool.restarts++;
    this.pool.fork();
    if (hung) {
      slot.state = 'draining';
      slot.worker.process.kill('SIGKILL');
    }
  }
}
