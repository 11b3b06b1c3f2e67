// The master role: holds the listening sockets, accepts connections and hands them to
// the serving generation's workers, and runs the signal-driven life cycle:
//
//   SIGUSR2          upgrade: spawn a replacement master with the sockets (upgrade.ts)
//   SIGHUP           reload: a new generation in this master, the old one drains
//   SIGTERM/INT/QUIT graceful stop; a second SIGTERM/SIGINT stops at once
//
// States: starting -> serving -> (handed-over | stopping) -> exit.
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Generation } from './generation';
import { HANDOFF_ENV, readHandoff, type Handoff } from './handoff';
import { Listener, specKey, type ListenerSpec } from './listeners';
import { Logger, type LogRecord } from './log';
import { isBaton, msg, type FromSuccessor, type ToSuccessor } from './messages';
import type { ResolvedOptions } from './options';
import { checkPidFileWritable, oldbinPath, readPidFile, removePidFileIf, writePidFile } from './pidfile';
import { captureStart, relaunch, type StartContext } from './relaunch';
import { setTitle } from './title';
import { UpgradeAttempt } from './upgrade';

export type MasterState = 'starting' | 'serving' | 'handed-over' | 'stopping';

export interface Outcome {
  ok: boolean;
  /** The new master (upgrade) or generation (reload) when ok. */
  pid?: number;
  generation?: number;
  reason?: string;
}

export interface MasterEvents {
  listening: [info: { name: string; address: string; port: number | undefined }];
  serving: [info: { generation: number }];
  'worker-ready': [info: { pid: number; generation: number }];
  'worker-exit': [info: { pid: number; generation: number; code: number | null; signal: string | null; expected: boolean }];
  'upgrade-started': [info: { pid: number }];
  'upgrade-succeeded': [info: { pid: number }];
  'upgrade-failed': [info: { reason: string }];
  'reload-started': [info: { generation: number }];
  'reload-succeeded': [info: { generation: number }];
  'reload-failed': [info: { generation: number; reason: string }];
  'generation-draining': [info: { generation: number; reason: string }];
  'generation-drained': [info: { generation: number; forced: number }];
  stopping: [info: { reason: string }];
  log: [record: LogRecord];
}

const PENDING_LIMIT = 10_000;
const SEND_RETRIES = 3;

export class Master extends EventEmitter<MasterEvents> {
  readonly role = 'master' as const;
  state: MasterState = 'starting';
  sockets: Listener[] = [];
  readonly generations = new Map<number, Generation>();
  serving: Generation | undefined;
  private reloading: Generation | undefined;
  private upgrading: UpgradeAttempt | undefined;
  private queued = new Set<'upgrade' | 'reload'>();
  private pending: Array<[Listener, Socket]> = [];
  private nextGeneration: number;
  private readonly log: Logger;
  private readonly start: StartContext;
  private readonly handoff: Handoff | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private signalCount = 0;

  constructor(private opts: ResolvedOptions, private specs: ListenerSpec[]) {
    super();
    this.start = captureStart();
    this.handoff = readHandoff();
    delete process.env[HANDOFF_ENV];
    this.nextGeneration = this.handoff?.generation ?? 1;
    this.log = new Logger('master', this.nextGeneration, opts.logLevel, opts.logFormat);
    this.log.sink = (r) => this.emit('log', r);
    if (opts.pidFile !== undefined) checkPidFileWritable(opts.pidFile);
  }

  get generation(): number {
    return this.serving?.id ?? this.nextGeneration;
  }

  /** In the master, readiness belongs to the workers: a no-op kept for symmetry. */
  ready(): void {}

  run(): void {
    setTitle('master', this.generation, 'starting');
    this.installSignals();
    if (this.handoff) this.watchParent();
    this.open()
      .then(() => this.startFirstGeneration())
      .catch((err: Error) => this.fatal(err.message));
  }

  // ---- start-up ---------------------------------------------------------------

  private async open(): Promise<void> {
    const inherited = new Map((this.handoff?.listeners ?? []).map((l) => [specKey(l.spec), l.fd]));
    const onConnection = (l: Listener, s: Socket): void => this.dispatch(l, s, 0);
    for (const spec of this.specs) {
      const fd = inherited.get(specKey(spec));
      const l = fd !== undefined
        ? Listener.adopt(spec, fd, onConnection)
        : await Listener.bind(spec, this.opts.backlog, onConnection);
      l.server.on('error', (err) => this.log.warn('accept-error', `${l.address()}: ${err.message}`));
      this.sockets.push(l);
      if (fd !== undefined) this.log.debug('listener-adopted', `${l.address()} inherited at fd ${fd}`);
      else this.announce(l);
    }
  }

  private announce(l: Listener): void {
    this.log.info('listening', `listening on ${l.address()}`, { listener: l.name });
    this.emit('listening', { name: l.name, address: l.address(), port: l.port() });
  }

  private startFirstGeneration(): void {
    // Workers run the script through the user's symlinks, so a reload loads the current release.
    const { script, args, cwd } = relaunch(this.start);
    cluster.setupPrimary({ exec: script, args, cwd });
    const gen = this.newGeneration();
    gen.on('failed', (reason) => this.fatal(`generation ${gen.id} failed to start: ${reason}`));
    gen.on('ready', () => {
      if (this.startTimer) clearTimeout(this.startTimer);
      if (this.handoff) this.askParentToGo();
      else void this.becomeServing(gen);
    });
    this.startTimer = setTimeout(() => this.fatal(`generation ${gen.id} was not ready within readyTimeout (${this.opts.readyTimeout} ms)`), this.opts.readyTimeout);
    gen.start();
  }

  private newGeneration(): Generation {
    const id = this.nextGeneration++;
    const gen = new Generation(id, { workers: this.opts.workers, drainTimeout: this.opts.drainTimeout }, this.log);
    this.generations.set(id, gen);
    gen.on('worker-ready', (slot) => {
      this.emit('worker-ready', { pid: slot.pid, generation: id });
      this.flushPending();
    });
    gen.on('worker-exit', (slot, code, signal, expected) => {
      this.emit('worker-exit', { pid: slot.pid, generation: id, code, signal, expected });
      this.log.debug('worker-exit', `worker ${slot.pid} of generation ${id} exited (${signal ?? `code ${code}`})`, { workerPid: slot.pid });
    });
    gen.on('drained', (forced) => {
      this.generations.delete(id);
      this.log.info('generation-drained', `generation ${id} drained${forced ? ` (${forced} worker(s) killed at drainTimeout)` : ''}`);
      this.emit('generation-drained', { generation: id, forced });
      this.maybeExit();
    });
    if (this.handoff && this.state === 'starting') {
      // the old master learns every pid, so that a failed upgrade can kill them all
      gen.on('worker-forked', (slot) => this.toParent({ type: 'forked', pid: slot.pid }));
    }
    return gen;
  }

  private async becomeServing(gen: Generation): Promise<void> {
    for (const l of this.sockets) await l.accept();
    gen.markServing();
    this.serving = gen;
    this.state = 'serving';
    this.log.generation = gen.id;
    if (this.opts.pidFile !== undefined) writePidFile(this.opts.pidFile, process.pid);
    setTitle('master', gen.id, 'serving');
    this.log.info('serving', `generation ${gen.id} serving with ${gen.readyCount()} worker(s)`);
    this.emit('serving', { generation: gen.id });
    this.flushPending();
    if (this.handoff) {
      for (const l of this.sockets) this.announce(l);
      this.toParent({ type: 'serving', pid: process.pid });
    }
    const next = [...this.queued];
    this.queued.clear();
    for (const what of next) {
      this.log.info('signal-replayed', `carrying out the ${what} requested during start-up`);
      if (what === 'reload') void this.reload();
      else void this.upgrade();
    }
  }

  // ---- talking to the previous master (when this one was spawned by an upgrade) ----

  private watchParent(): void {
    process.on('message', (m: unknown) => {
      if (!isBaton(m)) return;
      const message = m as ToSuccessor;
      const gen = this.generations.get(this.handoff?.generation ?? 0);
      if (message.type === 'go' && gen && this.state === 'starting') void this.becomeServing(gen);
    });
    process.on('disconnect', () => {
      // The old master left (released us, or died). If we are ready, serve alone.
      const gen = this.generations.get(this.handoff?.generation ?? 0);
      if (this.state === 'starting' && gen && gen.readyCount() === this.opts.workers) void this.becomeServing(gen);
    });
  }

  private askParentToGo(): void {
    if (process.connected) this.toParent({ type: 'ready', pid: process.pid });
    else {
      const gen = this.generations.get(this.handoff?.generation ?? 0);
      if (gen) void this.becomeServing(gen);
    }
  }

  private toParent(m: FromSuccessor): void {
    if (!process.connected) return;
    try {
      process.send?.(msg(m));
    } catch {
      // parent gone
    }
  }

  // ---- connections ----------------------------------------------------------------

  private dispatch(l: Listener, socket: Socket, attempt: number): void {
    const gen = this.serving ?? undefined;
    let slot = gen?.state === 'serving' ? gen.pick() : undefined;
    let target = gen;
    if (slot === undefined && this.state === 'handed-over') {
      // accepted just before we stopped accepting: a draining worker still serves it
      for (const g of this.generations.values()) {
        const any = [...g.slots.values()].find((s) => s.worker.isConnected());
        if (any) {
          slot = any;
          target = g;
          break;
        }
      }
    }
    if (slot === undefined || target === undefined) {
      if (this.pending.length >= PENDING_LIMIT) {
        this.log.warn('overload', `no worker ready and ${PENDING_LIMIT} connections waiting: closing one`);
        socket.destroy();
        return;
      }
      this.pending.push([l, socket]);
      return;
    }
    target.send(slot, l.name, socket, (ok) => {
      if (ok) return;
      if (attempt + 1 < SEND_RETRIES && !socket.destroyed) this.dispatch(l, socket, attempt + 1);
      else socket.destroy();
    });
  }

  private flushPending(): void {
    if (this.pending.length === 0) return;
    const ready = this.serving?.state === 'serving' && this.serving.readyCount() > 0;
    if (!ready && this.state !== 'handed-over') return;
    for (const [l, s] of this.pending.splice(0)) {
      if (!s.destroyed) this.dispatch(l, s, 0);
    }
  }

  // ---- signals ----------------------------------------------------------------------

  private installSignals(): void {
    process.on('SIGUSR2', () => void this.upgrade());
    process.on('SIGHUP', () => void this.reload());
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, () => this.stop(sig));
  }

  private refuse(what: string, why: string): Outcome {
    this.log.warn(`${what}-refused`, `${what} refused: ${why}`);
    return { ok: false, reason: why };
  }

  /** SIGUSR2: replaces this master with a new one started from the current files. */
  upgrade(): Promise<Outcome> {
    if (this.state === 'starting') {
      this.queued.add('upgrade');
      this.log.info('upgrade-queued', 'upgrade requested while starting: it runs once this generation is ready');
      return Promise.resolve({ ok: false, reason: 'queued until start-up completes' });
    }
    if (this.state === 'handed-over') return Promise.resolve(this.refuse('upgrade', `this master already handed over to a new master; signal that one (see the pid file)`));
    if (this.state === 'stopping') return Promise.resolve(this.refuse('upgrade', 'the server is stopping'));
    if (this.upgrading) return Promise.resolve(this.refuse('upgrade', `an upgrade is in progress (new master ${this.upgrading.pid})`));
    if (this.reloading) return Promise.resolve(this.refuse('upgrade', `a reload is in progress (generation ${this.reloading.id})`));
    if (process.pid === 1) {
      return Promise.resolve(this.refuse('upgrade', 'this master is PID 1: its exit would end the container with the new master in it. Run it under an init (docker run --init) or a supervisor'));
    }
    const attempt = new UpgradeAttempt({
      relaunch: relaunch(this.start),
      listeners: this.sockets,
      generation: this.nextGeneration,
      readyTimeout: this.opts.readyTimeout,
      pidFile: this.opts.pidFile,
      log: this.log,
    });
    this.upgrading = attempt;
    return new Promise((resolve) => {
      attempt.on('started', (pid) => {
        this.log.info('upgrade-started', `upgrade started: new master ${pid}`, { newPid: pid });
        this.emit('upgrade-started', { pid });
      });
      attempt.on('failed', (reason) => {
        this.upgrading = undefined;
        this.log.error('upgrade-failed', `upgrade failed, this master keeps serving: ${reason}`);
        this.emit('upgrade-failed', { reason });
        resolve({ ok: false, reason });
      });
      attempt.on('serving', (pid) => {
        this.upgrading = undefined;
        this.handOver(pid);
        resolve({ ok: true, pid });
      });
      attempt.start();
    });
  }

  private handOver(pid: number): void {
    this.state = 'handed-over';
    for (const l of this.sockets) void l.stopAccepting();
    this.log.info('upgrade-succeeded', `new master ${pid} serves; this master stopped accepting and drains`, { newPid: pid });
    this.emit('upgrade-succeeded', { pid });
    this.drainAll('upgraded');
    setTitle('master', this.generation, 'old, draining');
    this.flushPending();
    this.maybeExit();
  }

  /** SIGHUP: a new generation of workers with freshly loaded app code. */
  reload(): Promise<Outcome> {
    if (this.state === 'starting') {
      this.queued.add('reload');
      this.log.info('reload-queued', 'reload requested while starting: it runs once this generation is ready');
      return Promise.resolve({ ok: false, reason: 'queued until start-up completes' });
    }
    if (this.state !== 'serving') return Promise.resolve(this.refuse('reload', `this master is ${this.state}`));
    if (this.reloading) return Promise.resolve(this.refuse('reload', `a reload is in progress (generation ${this.reloading.id})`));
    if (this.upgrading) return Promise.resolve(this.refuse('reload', `an upgrade is in progress (new master ${this.upgrading.pid})`));
    const gen = this.newGeneration();
    this.reloading = gen;
    this.log.info('reload-started', `reload started: generation ${gen.id}`);
    this.emit('reload-started', { generation: gen.id });
    return new Promise((resolve) => {
      const timer = setTimeout(() => fail(`not ready within readyTimeout (${this.opts.readyTimeout} ms)`), this.opts.readyTimeout);
      const fail = (reason: string): void => {
        if (this.reloading !== gen) return;
        clearTimeout(timer);
        this.reloading = undefined;
        gen.abort();
        this.log.error('reload-failed', `reload to generation ${gen.id} failed, generation ${this.serving?.id} keeps serving: ${reason}`);
        this.emit('reload-failed', { generation: gen.id, reason });
        resolve({ ok: false, generation: gen.id, reason });
      };
      gen.on('failed', fail);
      gen.on('ready', () => {
        if (this.reloading !== gen) return;
        clearTimeout(timer);
        this.reloading = undefined;
        const old = this.serving;
        gen.markServing();
        this.serving = gen;
        this.log.generation = gen.id;
        setTitle('master', gen.id, 'serving');
        this.log.info('reload-succeeded', `generation ${gen.id} serves${old ? `; generation ${old.id} drains` : ''}`);
        this.emit('reload-succeeded', { generation: gen.id });
        this.flushPending();
        if (old) this.drainGeneration(old, 'reloaded');
        resolve({ ok: true, generation: gen.id });
      });
      gen.start();
    });
  }

  /** SIGTERM / SIGINT / SIGQUIT: stop accepting, drain everything, exit 0. */
  stop(reason = 'stop requested'): void {
    this.signalCount++;
    if (this.state === 'stopping' || (this.state === 'handed-over' && this.signalCount > 1)) {
      if (reason === 'SIGQUIT') return;
      this.log.warn('forced-stop', `${reason} again: stopping now`);
      for (const g of this.generations.values()) g.abort();
      process.exit(1);
    }
    if (this.state === 'handed-over') {
      this.log.info('stopping', `${reason}: this old master is already draining`);
      return;
    }
    const wasServing = this.state === 'serving';
    this.state = 'stopping';
    this.log.info('stopping', `${reason}: stopping gracefully`);
    this.emit('stopping', { reason });
    setTitle('master', this.generation, 'stopping');
    if (this.startTimer) clearTimeout(this.startTimer);
    this.upgrading?.fail(`stopped by ${reason}`);
    for (const l of this.sockets) void l.stopAccepting();
    if (wasServing || !this.handoff) for (const l of this.sockets) l.removePath();
    for (const [, s] of this.pending.splice(0)) s.destroy();
    this.drainAll(reason);
    this.maybeExit();
  }

  private drainAll(reason: string): void {
    if (this.reloading) {
      this.reloading.abort();
      this.reloading = undefined;
    }
    for (const g of this.generations.values()) this.drainGeneration(g, reason);
  }

  private drainGeneration(gen: Generation, reason: string): void {
    if (gen.state === 'draining' || gen.state === 'done') return;
    this.log.info('generation-draining', `generation ${gen.id} drains (${reason})`);
    this.emit('generation-draining', { generation: gen.id, reason });
    gen.drain(reason);
  }

  private maybeExit(): void {
    if (this.state !== 'stopping' && this.state !== 'handed-over') return;
    if (this.generations.size > 0) return;
    if (this.opts.pidFile !== undefined) {
      removePidFileIf(oldbinPath(this.opts.pidFile), process.pid);
      if (this.state === 'stopping') removePidFileIf(this.opts.pidFile, process.pid);
    }
    this.log.info('exit', 'all generations drained; exiting');
    setImmediate(() => process.exit(0));
  }

  private fatal(reason: string): void {
    this.log.error('start-failed', reason);
    this.toParent({ type: 'error', message: reason });
    for (const g of this.generations.values()) g.abort();
    if (this.opts.pidFile !== undefined && readPidFile(this.opts.pidFile) === process.pid) removePidFileIf(this.opts.pidFile, process.pid);
    setTimeout(() => process.exit(1), 50);
  }
}
