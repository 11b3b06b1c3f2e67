// A generation: one pool of cluster workers running one version of the app.
//
//   starting --all workers ready--> serving --drain()--> draining --last worker gone--> done
//       \--'failed': a worker died, or not ready within readyTimeout (the caller decides)--> abort() --> done
//
// Each generation drains on its own timer, so several may drain at once. While it
// serves, it keeps `target` workers alive (lib/pool/upkeep.ts).
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Accepting } from './accepting';
import { heartbeatInterval, newSlot, record, type Limits, type WorkerSlot } from './slot';
import { Stragglers, type StragglerTimes } from './stragglers';
import { Upkeep } from './upkeep';
import { sendIfConnected } from '../channel';
import { releasePendingHandle } from '../os/internals';
import { isBaton, type FromWorker } from '../messages';
import type { Logger } from '../log/log';
import type { Listener } from '../sockets/ledger';
import { pinnedExec, type WorkerExec } from '../os/relaunch';

export type GenerationState = 'starting' | 'serving' | 'draining' | 'done';

export interface GenerationOptions extends Limits, StragglerTimes {
  workers: number;
  /** What its workers run (every fork, respawns included: cluster's settings are global). */
  exec: WorkerExec;
  /** The backlog its workers' listen() sets on the sockets they accept on (the `backlog` option). */
  backlog: number;
  /** ms from start() to every worker ready; later, 'failed'. */
  readyTimeout: number;
  /** Environment of its workers over the master's (envFile; undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** More environment, asked at every fork (the master's: worker-records.ts, early.ts). */
  forkEnv?: () => Record<string, string>;
}

export interface GenerationEvents {
  ready: [];
  /** A worker exited before the generation was ready: the generation cannot start. */
  failed: [reason: string];
  'worker-forked': [slot: WorkerSlot];
  'worker-ready': [slot: WorkerSlot];
  'worker-exit': [slot: WorkerSlot, code: number | null, signal: string | null, expected: boolean];
  'worker-replaced': [slot: WorkerSlot, why: string];
  /** Sockets a worker died holding in its IPC queue: not delivered, still open; hand them on. */
  orphans: [sockets: Array<[Socket, string]>];
  /** A draining worker closed connections by force at drainTimeout. */
  'drain-forced': [slot: WorkerSlot, connections: number, upgraded: number];
  drained: [forced: number];
}

export class Generation extends EventEmitter<GenerationEvents> {
  state: GenerationState = 'starting';
  readonly slots = new Map<number, WorkerSlot>();
  readonly startedAt = Date.now();
  restarts = 0;
  target: number;
  /** While active, a worker that dies fails the generation instead of being replaced (lib/pool/probation.ts). */
  probation: { readonly active: boolean } | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private forcedKills = 0;
  /** Its workers accepting on the shared sockets themselves, kept fair (lib/pool/accepting.ts; acceptOn() resumes them). */
  readonly accepting: Accepting;
  /** Replacing the workers that die, hang or outgrow their limits while it serves. */
  private readonly upkeep: Upkeep;
  private readonly stragglers: Stragglers;

  /** The release its workers load: `exec` with the symlinks resolved when it was created. */
  readonly loaded: WorkerExec | undefined;

  constructor(readonly id: number, private opts: GenerationOptions, private log: Logger) {
    super();
    this.target = opts.workers;
    this.loaded = pinnedExec(opts.exec);
    this.accepting = new Accepting(this.slots, opts.backlog);
    this.upkeep = new Upkeep(this, opts, log);
    this.stragglers = new Stragglers(opts, log);
  }

  start(): void {
    this.readyTimer = setTimeout(() => {
      if (this.state === 'starting') this.emit('failed', `not ready within readyTimeout (${this.opts.readyTimeout} ms)`);
    }, this.opts.readyTimeout);
    for (let i = 0; i < this.target; i++) this.fork();
    this.upkeep.start();
  }

  /** Every worker it should have is there and ready (what 'ready' reports, asked later). */
  complete(): boolean {
    return this.readyCount() >= this.target;
  }

  readyCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state === 'ready' && !s.leaving) n++;
    return n;
  }

  /** Serving, on `probation` (begun) when it is a change on trial: a reload's generation, a new master's first. */
  markServing(probation?: { readonly active: boolean }): void {
    this.state = 'serving';
    this.probation = probation;
  }

  /**
   * Its workers accept new connections on these sockets themselves, each on duplicates of
   * its own, kept fair by lib/pool/balance.ts; a worker that becomes ready later joins in.
   */
  acceptOn(listeners: Listener[]): void {
    if (this.state === 'draining' || this.state === 'done') return;
    this.accepting.on(listeners);
  }

  /** Changes the number of workers: new ones are forked, extra ones drain gracefully. */
  scale(n: number): void {
    this.target = n;
    if (this.state === 'draining' || this.state === 'done') return;
    while (this.upkeep.staying() < n) this.fork();
    const extra = this.upkeep.staying() - n;
    if (extra <= 0) return;
    // the youngest not-yet-ready workers go first, then the newest ready ones
    const candidates = [...this.slots.values()]
      .filter((s) => s.state !== 'draining' && !s.leaving)
      .sort((a, b) => (a.state === b.state ? b.startedAt - a.startedAt : a.state === 'starting' ? -1 : 1));
    for (const slot of candidates.slice(0, extra)) {
      this.log.info('worker-removed', `scaling down: worker ${slot.pid} drains`, { workerPid: slot.pid });
      this.drainWorker(slot, 'scaled down');
    }
  }

  /** Tells every worker to drain; workers exit on their own, stragglers are killed. */
  drain(reason: string): void {
    if (this.state === 'draining' || this.state === 'done') return;
    this.stopServing();
    // one deadline for them all: whoever is left then is killed once, and counted
    for (const slot of this.slots.values()) this.tellDrain(slot, reason);
    this.stragglers.watchAll(this.id, this.slots, () => this.forcedKills++);
    this.checkDone();
  }

  /** One worker drains (scaled down, recycled): killed if still there at its own deadline. */
  drainWorker(slot: WorkerSlot, reason: string): void {
    if (this.tellDrain(slot, reason)) this.stragglers.watchWorker(slot, () => this.slots.has(slot.worker.id));
  }

  /** False when it drains already. */
  private tellDrain(slot: WorkerSlot, reason: string): boolean {
    if (slot.state === 'draining') return false;
    slot.state = 'draining';
    slot.accepting = false; // the worker closes its duplicates when it starts draining
    sendIfConnected(slot.worker, { type: 'drain', reason }); // channel gone: the exit handler takes over
    return true;
  }

  /** Sends a message to every live worker (SIGUSR1 is passed on this way). */
  broadcast(m: { type: string; [k: string]: unknown }): void {
    for (const slot of this.slots.values()) sendIfConnected(slot.worker, m);
  }

  /** Kills every worker at once (a generation that failed to start, or a forced stop). */
  abort(): void {
    this.stopServing();
    for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
    this.checkDone();
  }

  /** From now on it drains: no accepting, no upkeep, no ready timer. */
  private stopServing(): void {
    this.state = 'draining';
    this.accepting.stop();
    this.upkeep.stop();
    clearTimeout(this.readyTimer);
  }

  /** Forks one worker (the upkeep asks for replacements). */
  fork(): void {
    const { exec } = this.opts;
    cluster.setupPrimary({ exec: exec.script, args: exec.args, cwd: exec.cwd }); // global: set at every fork
    const worker = cluster.fork({
      ...this.opts.env,
      BATON_GENERATION: String(this.id),
      BATON_HEARTBEAT: String(heartbeatInterval(this.opts.workerTimeout)),
      ...this.opts.forkEnv?.(),
    });
    const slot = newSlot(worker, Date.now());
    this.slots.set(worker.id, slot);
    this.log.debug('worker-forked', `forked worker ${slot.pid}`, { workerPid: slot.pid });
    this.emit('worker-forked', slot);
    worker.on('message', (m: unknown) => this.onMessage(slot, m));
    worker.on('exit', (code, signal) => this.onExit(slot, code, signal));
    worker.on('error', () => {}); // EPIPE on a dying worker's channel: its 'exit' follows
  }

  private onMessage(slot: WorkerSlot, m: unknown): void {
    if (!isBaton(m)) return;
    const message = m as FromWorker;
    record(slot, message); // heartbeats, load reports, errors
    switch (message.type) {
      case 'ready':
        if (slot.state !== 'starting') return;
        slot.state = 'ready';
        slot.lastBeat = Date.now();
        this.accepting.let(slot);
        this.emit('worker-ready', slot);
        this.upkeep.retireReplaced();
        if (this.state === 'starting' && this.complete()) {
          clearTimeout(this.readyTimer);
          this.emit('ready');
        }
        return;
      case 'draining':
        // The worker got a signal of its own (SIGTERM to the cgroup, say) and is leaving.
        if (slot.state === 'draining') return;
        slot.state = 'draining';
        slot.accepting = false;
        this.log.info('worker-leaving', `worker ${slot.pid} is draining on its own (${message.reason}); replacing it`, { workerPid: slot.pid });
        this.upkeep.respawn(true);
        return;
      case 'load':
        this.accepting.reshare();
        return;
      case 'drain-forced':
        this.emit('drain-forced', slot, message.connections, message.upgraded);
    }
  }

  private onExit(slot: WorkerSlot, code: number | null, signal: string | null): void {
    this.slots.delete(slot.worker.id);
    this.accepting.wake(); // the share of those left
    // A connection sent to the worker but never acknowledged stays open in this process
    // when the worker dies: close it, so its client fails fast instead of hanging.
    if (releasePendingHandle(slot.worker.process)) {
      this.log.debug('pending-closed', `worker ${slot.pid} died before it took a connection: closed it`, { workerPid: slot.pid });
    }
    if (slot.sending.size > 0) {
      // Node queues a handle behind the one awaiting the worker's acknowledgement; when the
      // worker dies, queued sockets get no callback and would stay open, unserved.
      const orphans = [...slot.sending];
      slot.sending.clear();
      this.emit('orphans', orphans);
    }
    const expected = slot.state === 'draining' || slot.leaving || this.state === 'draining' || this.state === 'done';
    this.emit('worker-exit', slot, code, signal, expected);
    const exited = `worker ${slot.pid} exited (${signal ?? `code ${code}`})`;
    const why = slot.lastError ? `: ${slot.lastError}` : '';
    if (this.state === 'starting') this.emit('failed', slot.lastError ?? `${exited} before it was ready`);
    else if (this.state === 'serving' && !expected && this.probation?.active === true) this.emit('failed', `${exited} during probation${why}`);
    else if (this.state === 'serving' && !expected) {
      this.log.warn('worker-died', `worker ${slot.pid} exited unexpectedly (${signal ?? `code ${code}`})${why}; replacing it`, { workerPid: slot.pid });
      this.upkeep.respawn();
    }
    this.checkDone(); // only a draining generation can be done
  }

  private checkDone(): void {
    if (this.state !== 'draining' || this.slots.size > 0) return;
    this.state = 'done';
    this.stragglers.stop();
    this.emit('drained', this.forcedKills);
  }
}
