// The master's core: what it holds (the listening sockets, its generations, the channel to
// whoever started it, the control socket, the pid file) and how it serves, refuses, drains
// and exits. The changes it goes through (upgrade, reload, take-back, stop) are in
// lib/master/master.ts; its states and what each allows in lib/master/states.ts.
import { EventEmitter } from 'node:events';
import type { Generation } from '../pool/generation';
import { Dispatcher } from '../pool/dispatch';
import type { ReloadAttempt } from '../pool/reload';
import { EnvFile, type EnvOverlay } from '../config/envfile';
import type { ResolvedOptions } from '../config/options';
import { ExitHooks, type ExitHook } from '../worker/exit-hooks';
import { HANDOFF_ENV, readHandoff, type Handoff } from '../upgrade/handoff';
import { Predecessor } from '../upgrade/predecessor';
import type { UpgradeAttempt } from '../upgrade/attempt';
import type { TakeBack } from '../upgrade/take-back';
import { captureStart, workerExec, type StartContext, type WorkerExec } from '../upgrade/relaunch';
import type { KeptSockets } from '../sockets/keep';
import type { Listener, ListenerSpec } from '../sockets/listeners';
import { sharedSockets } from '../sockets/open';
import { Logger } from '../log/log';
import { WorkerRecords } from '../log/worker-records';
import { checkPidFileWritable, oldbinPath, readPidFile, removePidFileIf, writePidFile } from './pidfile';
import { ControlServer } from '../control/socket';
import { Commands } from '../control/commands';
import { Notifier } from '../os/notify';
import { setTitle } from '../os/title';
import { StopSignals } from '../os/signals';
import { type RemoteUpgrade, SupervisorLink, takeSupervisedMarker } from '../supervisor/supervised';
import type { FromMaster } from '../messages';
import type { MasterEvents } from './events';
import { renderStatus } from './status';
import { decide, States, type MasterState, type Outcome, type Request } from './states';
import { createGeneration } from './generations';

export abstract class MasterCore extends EventEmitter<MasterEvents> {
  readonly role = 'master' as const;
  protected readonly states = new States();
  sockets: Listener[] = [];
  readonly generations = new Map<number, Generation>();
  serving: Generation | undefined;
  protected reloading: ReloadAttempt | undefined;
  protected upgrading: UpgradeAttempt | RemoteUpgrade | undefined;
  /** Followed after the hand-over while this master drains (nginx mode): the new master, and duplicates of the sockets to take service back. */
  protected successor: { attempt: UpgradeAttempt; kept: KeptSockets | undefined } | undefined;
  protected takingBack: TakeBack | undefined;
  /** Set when this master runs under `baton run`: the supervisor performs upgrades. */
  protected readonly link: SupervisorLink | undefined;
  /** systemd notifications (Type=notify); under `baton run` the supervisor sends them. */
  protected readonly notifier: Notifier;
  protected queued = new Set<'upgrade' | 'reload'>();
  /** Hands each connection this master accepted to a worker (lib/pool/dispatch.ts). */
  protected readonly connections: Dispatcher;
  protected nextGeneration: number;
  protected readonly log: Logger;
  protected readonly workerRecords: WorkerRecords;
  protected readonly start: StartContext;
  protected readonly handoff: Handoff | undefined;
  /** The channel to whoever spawned this master (the old master after an upgrade). */
  protected readonly parent: Predecessor;
  protected readonly signals = new StopSignals();
  /** 1 once a take-back failed: the service ended with this master, not by a stop. */
  protected exitCode = 0;
  protected droppedListeners: string[] = [];
  /** Workers per generation: the option, or what scaling made of it (kept across upgrades). The one count: a generation's target is set from it. */
  workers: number;
  protected scaled = false;
  protected controlServer: ControlServer | undefined;
  readonly startedAt = Date.now();
  protected readonly envFile: EnvFile;
  /** The envFile variables the serving generation was started with (a take-back reuses them). */
  protected servingEnv: EnvOverlay = {};
  protected readonly exitHooks: ExitHooks;
  /** What beforeExit functions are told: the stop's reason, or 'upgraded'. */
  protected exitReason = 'stopping';

  constructor(protected opts: ResolvedOptions, protected specs: ListenerSpec[]) {
    super();
    this.start = captureStart();
    this.handoff = readHandoff();
    delete process.env[HANDOFF_ENV];
    this.nextGeneration = this.handoff?.generation ?? 1;
    this.workers = this.handoff?.workers ?? opts.workers;
    this.scaled = this.handoff?.workers !== undefined;
    this.parent = new Predecessor(opts.probation);
    this.log = new Logger('master', this.nextGeneration, opts.logLevel, opts.logFormat, opts.logger);
    this.log.sink = (r) => this.emit('log', r);
    this.workerRecords = new WorkerRecords(this, (m) => {
      for (const g of this.generations.values()) g.broadcast(m);
    });
    this.connections = new Dispatcher({ serving: () => this.serving, handedOver: () => this.state === 'handed-over', generations: () => this.generations.values() }, this.log);
    if (takeSupervisedMarker()) {
      this.link = new SupervisorLink((u) => {
        if (this.state === 'serving' && !this.upgrading) this.followUpgrade(u, () => undefined);
      }, () => {
        if (this.state !== 'stopping') this.stop('stop requested by the supervisor');
      });
    }
    this.link?.send({ type: 'hello', readyTimeout: opts.readyTimeout });
    this.notifier = new Notifier(this.log, this.link === undefined);
    if (opts.pidFile !== undefined) checkPidFileWritable(opts.pidFile);
    this.exitHooks = new ExitHooks(this.log);
    this.envFile = new EnvFile(opts.envFile, this.start.cwd, this.log);
    this.envFile.load();
  }

  get state(): MasterState {
    return this.states.state;
  }

  /** Clean-up run when this master exits (after its generations are gone), bounded by exitTimeout. */
  beforeExit(fn: ExitHook): this {
    this.exitHooks.add(fn);
    return this;
  }

  get generation(): number {
    return this.serving?.id ?? this.nextGeneration;
  }

  /** In the master, readiness belongs to the workers: a no-op kept for symmetry. */
  ready(): void {}

  get readyTimeout(): number {
    return this.opts.readyTimeout;
  }

  abstract upgrade(): Promise<Outcome>;
  abstract reload(): Promise<Outcome>;
  abstract stop(reason?: string): void;
  /** Mirrors an upgrade (run here, or by the supervisor) into this master's state and events. */
  protected abstract followUpgrade(attempt: UpgradeAttempt | RemoteUpgrade, resolve: (o: Outcome) => void): void;

  /** By default its workers run the script through the user's symlinks: the current release. */
  protected newGeneration(exec: WorkerExec = workerExec(this.start), env: EnvOverlay = {}): Generation {
    const id = this.nextGeneration++;
    const gen = createGeneration(id, exec, env, {
      opts: this.opts, workers: this.workers, log: this.log, workerRecords: this.workerRecords, connections: this.connections,
      sockets: () => this.sockets,
      parent: this.handoff !== undefined && this.state === 'starting' ? this.parent : undefined,
      starting: () => this.state === 'starting',
      emit: (event, ...args) => (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args),
      forget: (gone) => this.generations.delete(gone),
      drained: () => this.maybeExit(),
    });
    this.generations.set(id, gen);
    return gen;
  }

  protected announce(l: Listener): void {
    l.announced = true;
    this.log.info('listening', `listening on ${l.address()}`, { listener: l.name });
    this.emit('listening', { name: l.name, address: l.address(), port: l.port() });
  }

  protected async becomeServing(gen: Generation, takenBack = false): Promise<void> {
    // Under `baton run`, the supervisor holds the sockets and knows this master serves before
    // it accepts anything: killed a moment later, it is still replaced (not given up on).
    if (this.link && !this.handoff) await this.link.hold(this.sockets, this.stateMessage(true));
    for (const l of this.sockets) await l.accept();
    gen.markServing();
    gen.acceptOn(sharedSockets(this.sockets, this.opts.backlog));
    // Spawned by an upgrade: the old master still accepts and waits `probation` ms before it
    // hands over; a worker lost in that time fails this master, and the old one goes on.
    if (this.handoff && !takenBack) {
      gen.probation = this.parent.probation;
      this.parent.probation.begin();
    }
    this.serving = gen;
    this.states.to('serving');
    this.log.generation = gen.id;
    if (this.opts.pidFile !== undefined) {
      writePidFile(this.opts.pidFile, process.pid);
      if (takenBack) removePidFileIf(oldbinPath(this.opts.pidFile), process.pid);
    }
    await this.openControl(takenBack);
    this.notifier.ready(process.pid, `generation ${gen.id} serving`);
    setTitle('master', gen.id, 'serving');
    this.log.info('serving', `generation ${gen.id} serving with ${gen.readyCount()} worker(s)`);
    this.emit('serving', { generation: gen.id });
    this.connections.flush();
    for (const l of this.sockets) if (!l.announced) this.announce(l);
    if (this.handoff && !takenBack) this.parent.send({ type: 'serving', pid: process.pid, dropped: this.droppedListeners });
    this.reportState();
    const next = [...this.queued];
    this.queued.clear();
    for (const what of next) {
      this.log.info('signal-replayed', `carrying out the ${what} requested during start-up`);
      if (what === 'reload') void this.reload();
      else void this.upgrade();
    }
  }

  /** Tells the supervisor (`baton run`) what it needs to start the next master. */
  protected reportState(): void {
    this.link?.send(this.stateMessage(this.state !== 'starting'));
  }

  protected stateMessage(serving: boolean): FromMaster {
    const o = this.opts;
    return { type: 'state', pidFile: o.pidFile, readyTimeout: o.readyTimeout, nextGeneration: this.nextGeneration, workers: this.workers, scaled: this.scaled, probation: o.probation, serving };
  }

  protected async openControl(again = false): Promise<void> {
    if (this.opts.controlSocket === undefined || (this.controlServer && !again)) return;
    const control = this.controlServer ?? new ControlServer(this.opts.controlSocket, new Commands(this));
    try {
      await control.open(this.handoff !== undefined || again);
      this.controlServer = control;
      this.log.debug('control-listening', `control socket ${control.path}`);
    } catch (err) {
      this.log.error('control-failed', `cannot open the control socket ${this.opts.controlSocket}: ${(err as Error).message}; the baton CLI cannot reach this master (signals still work)`);
    }
  }

  /** Runs `what` now, queues it until start-up completes, or refuses it (lib/master/states.ts). */
  protected gate(what: Request): Outcome | undefined {
    const d = decide(what, this.state, { reloading: this.reloading?.gen.id, upgrading: this.upgrading ? { pid: this.upgrading.pid } : undefined });
    if ('run' in d) return undefined;
    if ('refuse' in d) {
      this.log.warn(`${what}-refused`, `${what} refused: ${d.refuse}`);
      return { ok: false, reason: d.refuse };
    }
    this.queued.add(what as 'upgrade' | 'reload');
    this.log.info(`${what}-queued`, `${what} requested while starting: it runs once this generation is ready`);
    return { ok: false, reason: 'queued until start-up completes' };
  }

  /** SIGTTIN / SIGTTOU / `baton scale N`: workers per generation, at least 1. */
  scale(n: number): Promise<Outcome> {
    const gated = this.gate('scale');
    if (gated) return Promise.resolve(gated);
    const why = !Number.isInteger(n) || n < 1 ? `${n} workers: at least 1 worker is needed` : n > 1024 ? `${n} workers: at most 1024` : undefined;
    if (why !== undefined) {
      this.log.warn('scale-refused', `scale refused: ${why}`);
      return Promise.resolve({ ok: false, reason: why });
    }
    this.workers = n;
    this.scaled = true;
    this.log.info('scaled', `workers per generation: ${n}`);
    this.emit('scaled', { workers: n });
    this.reportState();
    this.serving?.scale(n);
    this.reloading?.gen.scale(n);
    return Promise.resolve({ ok: true, generation: this.generation });
  }

  /** What `baton status` shows. */
  status(): Record<string, unknown> {
    return renderStatus({
      generation: this.generation, state: this.state, startedAt: this.startedAt, workers: this.workers, sockets: this.sockets,
      upgradePid: this.upgrading ? this.upgrading.pid ?? null : undefined, generations: this.generations.values(),
    });
  }

  /** No take-back any more: the duplicates go (they would queue connections nobody accepts). */
  protected letSuccessorGo(): void {
    this.successor?.kept?.close();
    this.successor = undefined;
  }

  protected drainAll(reason: string): void {
    this.reloading?.abort();
    this.reloading = undefined;
    for (const g of this.generations.values()) this.drainGeneration(g, reason);
  }

  protected drainGeneration(gen: Generation, reason: string): void {
    if (gen.state === 'draining' || gen.state === 'done') return;
    this.log.info('generation-draining', `generation ${gen.id} drains (${reason})`);
    this.emit('generation-draining', { generation: gen.id, reason });
    gen.drain(reason);
  }

  protected maybeExit(): void {
    if (!this.states.leaving || this.generations.size > 0) return;
    if (this.opts.pidFile !== undefined) {
      removePidFileIf(oldbinPath(this.opts.pidFile), process.pid);
      if (this.state === 'stopping') removePidFileIf(this.opts.pidFile, process.pid);
    }
    this.letSuccessorGo();
    this.log.info('exit', 'all generations drained; exiting');
    this.emit('exiting');
    const control = this.controlServer;
    const hooks = this.exitHooks.run(this.exitReason, this.opts.exitTimeout);
    setImmediate(() => {
      void Promise.all([control?.flush(), this.notifier.flush(), hooks]).then(() => process.exit(this.exitCode));
    });
  }

  protected fatal(reason: string): void {
    this.log.error('start-failed', reason);
    this.parent.send({ type: 'error', message: reason });
    for (const g of this.generations.values()) g.abort();
    if (this.opts.pidFile !== undefined && readPidFile(this.opts.pidFile) === process.pid) removePidFileIf(this.opts.pidFile, process.pid);
    setTimeout(() => process.exit(1), 50);
  }
}
