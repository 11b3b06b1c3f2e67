// A generation: one pool of cluster workers running one version of the app.
//
//   starting --all workers ready--> serving --drain()--> draining --last worker gone--> done
//       \--'failed': a worker died, or not ready within readyTimeout (the caller decides)--> abort() --> done
//
// Each generation drains on its own timer, so several may drain at once. While it
// serves, the generation keeps `target` workers alive: it replaces workers that die
// (with back-off), hang (no heartbeat for workerTimeout) or outgrow their limits
// (maxMemory, maxRequests: the replacement first, then the old worker drains).
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Balancer, TICK } from './balance';
import { releasePendingHandle } from '../os/internals';
import { isBaton, msg, type FromWorker } from '../messages';
import type { Logger } from '../log/log';
import { pinnedExec, type WorkerExec } from '../upgrade/relaunch';

export type GenerationState = 'starting' | 'serving' | 'draining' | 'done';
export type WorkerState = 'starting' | 'ready' | 'draining';

export interface WorkerSlot {
  worker: Worker;
  pid: number;
  state: WorkerState;
  /** Connections handed over and not yet acknowledged by the IPC channel. */
  inflight: number;
  startedAt: number;
  lastBeat: number;
  connections: number;
  requests: number;
  rss: number;
  /** Being replaced (recycled or hung): not counted towards the target. */
  leaving: boolean;
  /** Sockets handed to send() whose callback has not come yet. */
  sending: Map<Socket, string>;
  lastError?: string;
  /** Accepting itself: told to (`accepting`), paused by the fairness control (`paused`). */
  accepting: boolean;
  paused: boolean;
  /** Listeners it has been given duplicates of, and those with one on its way. */
  given: Set<string>;
  spareInFlight: Set<string>;
  /** Its last load report (lib/pool/balance.ts). */
  open: number;
  accepted: number;
}

/** A TCP socket the workers accept on themselves (lib/worker/acceptor.ts). */
export interface SharedSocket {
  listener: string;
  handle: object;
  backlog: number;
}

/** Duplicates each worker gets of a socket: one to listen on, one spare to resume with at once. */
const HANDLES_PER_WORKER = 2;

export interface GenerationOptions {
  workers: number;
  /** What its workers run (every fork, respawns included: cluster's settings are global). */
  exec: WorkerExec;
  /** ms from start() to every worker ready; later, 'failed'. */
  readyTimeout: number;
  drainTimeout: number;
  /** ms without a heartbeat after which a serving worker is replaced; 0 disables. */
  workerTimeout: number;
  /** bytes of RSS after which a worker is recycled; 0 disables. */
  maxMemory: number;
  /** requests after which a worker is recycled; 0 disables. */
  maxRequests: number;
  /** Extra time after drainTimeout before a worker that did not exit is SIGKILLed. */
  killGrace?: number;
  /** ms a draining worker's beforeExit functions may take after its connections are done. */
  exitTimeout?: number;
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
  drained: [forced: number];
}

const BACKOFF_MIN = 100;
const BACKOFF_MAX = 10_000;
const STABLE_AFTER = 30_000;
// A worker leaving on its own signal is replaced after this pause, so that a signal sent
// to the whole process group (Ctrl-C) reaches the master before it forks anything.
const REPLACE_DELAY = 50;

/** How often workers send a heartbeat (with their counters) for a given workerTimeout. */
export function heartbeatInterval(workerTimeout: number): number {
  if (workerTimeout <= 0) return 1_000;
  return Math.max(50, Math.min(1_000, Math.floor(workerTimeout / 4)));
}

export class Generation extends EventEmitter<GenerationEvents> {
  state: GenerationState = 'starting';
  readonly slots = new Map<number, WorkerSlot>();
  readonly startedAt = Date.now();
  restarts = 0;
  target: number;
  /** Until this time (ms epoch) a worker that dies fails the generation instead of being replaced. */
  probationUntil = 0;
  private rr = 0;
  private crashes = 0;
  private lastCrash = 0;
  private respawnTimers = new Set<NodeJS.Timeout>();
  private killTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private forcedKills = 0;
  /** While set, its ready workers accept on these sockets themselves. */
  private shared: SharedSocket[] | undefined;
  private readonly balancer = new Balancer();
  private balanceTimer: NodeJS.Timeout | undefined;

  /** The release its workers load: `exec` with the symlinks resolved when it was created. */
  readonly loaded: WorkerExec | undefined;

  constructor(readonly id: number, private opts: GenerationOptions, private log: Logger) {
    super();
    this.target = opts.workers;
    this.loaded = pinnedExec(opts.exec);
  }

  start(): void {
    this.readyTimer = setTimeout(() => {
      if (this.state === 'starting') this.emit('failed', `not ready within readyTimeout (${this.opts.readyTimeout} ms)`);
    }, this.opts.readyTimeout);
    for (let i = 0; i < this.target; i++) this.fork();
    if (this.opts.workerTimeout > 0 || this.opts.maxMemory > 0 || this.opts.maxRequests > 0) {
      this.watchTimer = setInterval(() => this.watch(), heartbeatInterval(this.opts.workerTimeout));
      this.watchTimer.unref();
    }
  }

  readyCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state === 'ready' && !s.leaving) n++;
    return n;
  }

  /** Workers that count towards the target: alive, not draining, not being replaced. */
  private staying(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state !== 'draining' && !s.leaving) n++;
    return n + this.respawnTimers.size;
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
    slot.sending.set(socket, listener);
    try {
      slot.worker.send(msg({ type: 'conn', listener }), socket, { keepOpen: false }, (err: Error | null) => {
        if (!slot.sending.delete(socket)) return; // already handed on as an orphan
        slot.inflight--;
        done(!err);
      });
    } catch {
      slot.sending.delete(socket);
      slot.inflight--;
      done(false);
    }
  }

  markServing(): void {
    this.state = 'serving';
  }

  /**
   * Its workers accept new connections on these sockets themselves, each on duplicates of
   * its own, kept fair by lib/pool/balance.ts; a worker that becomes ready later joins in.
   */
  acceptOn(sockets: SharedSocket[]): void {
    if (this.state === 'draining' || this.state === 'done') return;
    this.shared = sockets;
    if (sockets.length === 0) return;
    for (const slot of this.slots.values()) this.letAccept(slot);
    if (this.balanceTimer === undefined) {
      this.balanceTimer = setInterval(() => this.balance(), TICK);
      this.balanceTimer.unref();
    }
  }

  /** Its workers stop taking new connections (for now: acceptOn() again resumes). */
  stopAccepting(): void {
    this.shared = undefined;
    if (this.balanceTimer) clearInterval(this.balanceTimer);
    this.balanceTimer = undefined;
    for (const slot of this.slots.values()) {
      this.balancer.forget(slot.worker.id);
      if (!slot.accepting) continue;
      slot.accepting = false;
      slot.paused = false;
      this.tellWorker(slot, { type: 'accept', on: false });
    }
  }

  private letAccept(slot: WorkerSlot): void {
    const shared = this.shared;
    if (shared === undefined || slot.state !== 'ready' || slot.accepting) return;
    for (const s of shared) {
      if (slot.given.has(s.listener)) continue;
      slot.given.add(s.listener);
      for (let i = 0; i < HANDLES_PER_WORKER; i++) this.sendHandle(slot, s);
    }
    slot.accepting = true;
    slot.paused = false;
    this.balancer.forget(slot.worker.id);
    this.tellWorker(slot, { type: 'accept', on: true });
  }

  private sendHandle(slot: WorkerSlot, s: SharedSocket, done?: () => void): void {
    if (!slot.worker.isConnected()) return;
    try {
      slot.worker.send(msg({ type: 'handle', listener: s.listener, backlog: s.backlog }), s.handle as never, {}, () => done?.());
    } catch {
      // gone: its 'exit' follows
    }
  }

  /** Sends a message if the worker's channel is still open; a worker that is gone is its 'exit' handler's. */
  private tellWorker(slot: WorkerSlot, m: { type: string; [k: string]: unknown }): void {
    if (!slot.worker.isConnected()) return;
    try {
      slot.worker.send(msg(m));
    } catch {
      // gone
    }
  }

  /** A worker used a spare duplicate: it gets another, one at a time. */
  private topUp(slot: WorkerSlot, needs: string[]): void {
    for (const name of needs) {
      const s = this.shared?.find((x) => x.listener === name);
      if (s === undefined || slot.spareInFlight.has(name) || slot.state === 'draining') continue;
      slot.spareInFlight.add(name);
      this.sendHandle(slot, s, () => slot.spareInFlight.delete(name));
    }
  }

  /** One round of the fairness control (lib/pool/balance.ts) over the workers that accept. */
  private balance(): void {
    const members = [...this.slots.values()].filter((s) => s.accepting && s.state === 'ready');
    const decision = this.balancer.tick(members.map((s) => ({ id: s.worker.id, open: s.open, accepted: s.accepted })));
    for (const id of decision.pause) {
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      slot.paused = true;
      this.tellWorker(slot, { type: 'accept', on: false });
    }
    for (const id of decision.resume) {
      const slot = this.slots.get(id);
      if (slot === undefined || !slot.accepting) continue;
      slot.paused = false;
      this.tellWorker(slot, { type: 'accept', on: true });
    }
    for (const [id, connections] of decision.shed) {
      const slot = this.slots.get(id);
      if (slot) this.tellWorker(slot, { type: 'shed', connections });
    }
  }

  /** Changes the number of workers: new ones are forked, extra ones drain gracefully. */
  scale(n: number): void {
    this.target = n;
    if (this.state === 'draining' || this.state === 'done') return;
    while (this.staying() < n) this.fork();
    const extra = this.staying() - n;
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
    this.state = 'draining';
    this.stopTimers();
    for (const slot of this.slots.values()) this.drainWorker(slot, reason);
    this.killTimer = setTimeout(() => {
      for (const slot of this.slots.values()) {
        this.log.warn('worker-killed', `worker ${slot.pid} of generation ${this.id} did not exit within drainTimeout + exitTimeout; killing it`, { workerPid: slot.pid });
        this.forcedKills++;
        slot.worker.process.kill('SIGKILL');
      }
    }, this.killAfter());
    this.killTimer.unref();
    this.checkDone();
  }

  drainWorker(slot: WorkerSlot, reason: string): void {
    if (slot.state === 'draining') return;
    slot.state = 'draining';
    slot.accepting = false; // the worker closes its duplicates when it starts draining
    this.tellWorker(slot, { type: 'drain', reason }); // channel gone: the exit handler takes over
    // a draining worker that never leaves (busy loop) is killed at drainTimeout
    const t = setTimeout(() => {
      if (this.slots.has(slot.worker.id)) {
        this.log.warn('worker-killed', `worker ${slot.pid} did not finish draining within drainTimeout + exitTimeout; killing it`, { workerPid: slot.pid });
        slot.worker.process.kill('SIGKILL');
      }
    }, this.killAfter());
    t.unref();
  }

  /** A draining worker has drainTimeout for its connections, then exitTimeout for its beforeExit functions. */
  private killAfter(): number {
    return this.opts.drainTimeout + (this.opts.exitTimeout ?? 0) + (this.opts.killGrace ?? 2_000);
  }

  /** Sends a message to every live worker (SIGUSR1 is passed on this way). */
  broadcast(m: { type: string; [k: string]: unknown }): void {
    for (const slot of this.slots.values()) this.tellWorker(slot, m);
  }

  /** Kills every worker at once (a generation that failed to start, or a forced stop). */
  abort(): void {
    this.state = 'draining';
    this.stopTimers();
    for (const slot of this.slots.values()) slot.worker.process.kill('SIGKILL');
    this.checkDone();
  }

  private stopTimers(): void {
    this.shared = undefined;
    if (this.balanceTimer) clearInterval(this.balanceTimer);
    this.balanceTimer = undefined;
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.readyTimer = undefined;
  }

  private fork(): void {
    const { script, args, cwd } = this.opts.exec;
    cluster.setupPrimary({ exec: script, args, cwd });
    const worker = cluster.fork({
      ...this.opts.env,
      BATON_GENERATION: String(this.id),
      BATON_HEARTBEAT: String(heartbeatInterval(this.opts.workerTimeout)),
      ...this.opts.forkEnv?.(),
    });
    const pid = worker.process.pid ?? -1;
    const now = Date.now();
    const slot: WorkerSlot = {
      worker, pid, state: 'starting', inflight: 0, startedAt: now, lastBeat: now, connections: 0, requests: 0, rss: 0, leaving: false,
      sending: new Map(), accepting: false, paused: false, given: new Set(), spareInFlight: new Set(), open: 0, accepted: 0,
    };
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
        slot.lastBeat = Date.now();
        this.letAccept(slot);
        this.emit('worker-ready', slot);
        this.retireReplaced();
        if (this.state === 'starting' && this.readyCount() >= this.target && this.slots.size >= this.target) {
          if (this.readyTimer) clearTimeout(this.readyTimer);
          this.readyTimer = undefined;
          this.emit('ready');
        }
        return;
      case 'beat':
        slot.lastBeat = Date.now();
        slot.connections = message.connections;
        slot.requests = message.requests;
        slot.rss = message.rss;
        return;
      case 'draining':
        // The worker got a signal of its own (SIGTERM to the cgroup, say) and is leaving.
        if (slot.state === 'draining') return;
        slot.state = 'draining';
        slot.accepting = false;
        this.log.info('worker-leaving', `worker ${slot.pid} is draining on its own (${message.reason}); replacing it`, { workerPid: slot.pid });
        this.respawn(true);
        return;
      case 'error':
        slot.lastError = message.message;
        return;
      case 'load':
        slot.open = message.open;
        slot.accepted = message.accepted;
        if (message.needs.length > 0 && slot.accepting) this.topUp(slot, message.needs);
        return;
    }
  }

  /** Heartbeats and limits of serving workers. */
  private watch(): void {
    if (this.state !== 'serving') return;
    const now = Date.now();
    for (const slot of this.slots.values()) {
      if (slot.state !== 'ready' || slot.leaving) continue;
      const timeout = this.opts.workerTimeout;
      if (timeout > 0 && now - slot.lastBeat > timeout) {
        this.replace(slot, `no heartbeat for ${now - slot.lastBeat} ms (workerTimeout ${timeout} ms): its event loop is blocked`, true);
      } else if (this.opts.maxMemory > 0 && slot.rss > this.opts.maxMemory) {
        this.replace(slot, `RSS ${Math.round(slot.rss / 1048576)} MiB is over maxMemory (${Math.round(this.opts.maxMemory / 1048576)} MiB)`, false);
      } else if (this.opts.maxRequests > 0 && slot.requests >= this.opts.maxRequests) {
        this.replace(slot, `served ${slot.requests} requests (maxRequests ${this.opts.maxRequests})`, false);
      }
    }
  }

  /**
   * Replaces a worker: a new one is forked first. A hung worker is killed at once (it
   * cannot drain); a recycled one drains once its replacement is ready.
   */
  private replace(slot: WorkerSlot, why: string, hung: boolean): void {
    slot.leaving = true;
    this.log.warn(hung ? 'worker-hung' : 'worker-recycled', `worker ${slot.pid} is replaced: ${why}`, { workerPid: slot.pid });
    this.emit('worker-replaced', slot, why);
    this.restarts++;
    this.fork();
    if (hung) {
      slot.state = 'draining';
      slot.worker.process.kill('SIGKILL');
    }
  }

  /** Once a replacement is ready, recycled workers drain. */
  private retireReplaced(): void {
    for (const slot of this.slots.values()) {
      if (slot.leaving && slot.state === 'ready' && this.readyCount() >= this.target) this.drainWorker(slot, 'recycled');
    }
  }

  private onExit(slot: WorkerSlot, code: number | null, signal: string | null): void {
    this.slots.delete(slot.worker.id);
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
    if (this.state === 'starting') {
      const why = slot.lastError ?? `worker ${slot.pid} exited (${signal ?? `code ${code}`}) before it was ready`;
      this.emit('failed', why);
      return;
    }
    if (this.state === 'serving' && !expected && Date.now() < this.probationUntil) {
      this.emit('failed', `worker ${slot.pid} exited (${signal ?? `code ${code}`}) during probation${slot.lastError ? `: ${slot.lastError}` : ''}`);
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
    if (this.state !== 'serving' || this.staying() >= this.target) return;
    this.restarts++;
    const now = Date.now();
    if (!immediate) {
      if (now - this.lastCrash > STABLE_AFTER) this.crashes = 0;
      this.lastCrash = now;
      this.crashes++;
    }
    const delay = immediate ? REPLACE_DELAY : Math.min(BACKOFF_MIN * 2 ** (this.crashes - 1), BACKOFF_MAX);
    if (delay > 1_000) this.log.warn('worker-backoff', `workers keep dying: next one in ${delay} ms`);
    const t = setTimeout(() => {
      this.respawnTimers.delete(t);
      if (this.state === 'serving' && this.staying() < this.target) this.fork();
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
