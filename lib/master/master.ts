// The master role: a coordinator. It owns the listening sockets and its generations, and
// moves through the states of lib/master/states.ts as the pieces it drives report back:
//
//   SIGUSR2          upgrade: a replacement master (lib/upgrade/attempt.ts; under `baton run`
//                    the supervisor runs it, lib/supervisor/)
//   SIGHUP           reload: a new generation in this master (lib/pool/reload.ts)
//   SIGTERM/INT/QUIT graceful stop; a second SIGTERM/SIGINT stops at once
//
// Each piece reports outcomes as events or return values; only this file changes the state.
import { EventEmitter } from 'node:events';
import { Generation } from '../pool/generation';
import { Dispatcher } from '../pool/dispatch';
import { ReloadAttempt } from '../pool/reload';
import { EnvFile, type EnvOverlay } from '../config/envfile';
import type { ResolvedOptions } from '../config/options';
import { ExitHooks, type ExitHook } from '../worker/exit-hooks';
import { HANDOFF_ENV, readHandoff, type Handoff } from '../upgrade/handoff';
import { Predecessor } from '../upgrade/predecessor';
import { workerPreloads } from '../upgrade/early';
import { UpgradeAttempt } from '../upgrade/attempt';
import { TakeBack } from '../upgrade/take-back';
import { captureStart, relaunch, workerExec, type StartContext, type WorkerExec } from '../upgrade/relaunch';
import { KeptSockets } from '../sockets/keep';
import type { Listener, ListenerSpec } from '../sockets/listeners';
import { openListeners, sharedSockets } from '../sockets/open';
import { Logger } from '../log/log';
import { WorkerRecords } from '../log/worker-records';
import { checkPidFileWritable, oldbinPath, readPidFile, removePidFileIf, writePidFile } from './pidfile';
import { ControlServer } from '../control/socket';
import { Commands } from '../control/commands';
import { Notifier } from '../os/notify';
import { setTitle } from '../os/title';
import { takeOverUncaught } from '../os/fatal';
import { isStopSignal, StopSignals } from '../os/signals';
import { RemoteUpgrade, SupervisorLink, takeSupervisedMarker } from '../supervisor/supervised';
import type { FromMaster } from '../messages';
import type { MasterEvents } from './events';
import { installSignals } from './signals';
import { renderStatus } from './status';
import { decide, States, type MasterState, type Outcome, type Request } from './states';

export type { MasterEvents } from './events';
export type { MasterState, Outcome } from './states';

export class Master extends EventEmitter<MasterEvents> {
  readonly role = 'master' as const;
  private readonly states = new States();
  sockets: Listener[] = [];
  readonly generations = new Map<number, Generation>();
  serving: Generation | undefined;
  private reloading: ReloadAttempt | undefined;
  private upgrading: UpgradeAttempt | RemoteUpgrade | undefined;
  /** Followed after the hand-over while this master drains (nginx mode): the new master, and duplicates of the sockets to take service back. */
  private successor: { attempt: UpgradeAttempt; kept: KeptSockets | undefined } | undefined;
  private takingBack: TakeBack | undefined;
  /** Set when this master runs under `baton run`: the supervisor performs upgrades. */
  private readonly link: SupervisorLink | undefined;
  /** systemd notifications (Type=notify); under `baton run` the supervisor sends them. */
  private readonly notifier: Notifier;
  private queued = new Set<'upgrade' | 'reload'>();
  /** Hands each connection this master accepted to a worker (lib/pool/dispatch.ts). */
  private readonly connections: Dispatcher;
  private nextGeneration: number;
  private readonly log: Logger;
  private readonly workerRecords: WorkerRecords;
  private readonly start: StartContext;
  private readonly handoff: Handoff | undefined;
  /** The channel to whoever spawned this master (the old master after an upgrade). */
  private readonly parent: Predecessor;
  private readonly signals = new StopSignals();
  /** 1 once a take-back failed: the service ended with this master, not by a stop. */
  private exitCode = 0;
  private droppedListeners: string[] = [];
  /** Workers per generation: the option, or what scaling made of it (kept across upgrades). The one count: a generation's target is set from it. */
  workers: number;
  private scaled = false;
  private controlServer: ControlServer | undefined;
  readonly startedAt = Date.now();
  private readonly envFile: EnvFile;
  /** The envFile variables the serving generation was started with (a take-back reuses them). */
  private servingEnv: EnvOverlay = {};
  private readonly exitHooks: ExitHooks;
  /** What beforeExit functions are told: the stop's reason, or 'upgraded'. */
  private exitReason = 'stopping';

  constructor(private opts: ResolvedOptions, private specs: ListenerSpec[]) {
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

  run(): void {
    setTitle('master', this.generation, 'starting');
    takeOverUncaught(this.log);
    installSignals({
      upgrade: () => void this.upgrade(),
      reload: () => void this.reload(),
      stop: (sig) => this.stop(sig),
      scaleBy: (d) => void this.scale(this.workers + d),
      passOn: (signal) => {
        this.log.info('signal-passed', `${signal} passed to the workers`);
        for (const g of this.generations.values()) g.broadcast({ type: 'signal', signal });
      },
    });
    if (this.handoff) this.followParent();
    openListeners({
      specs: this.specs, handedOff: this.handoff?.listeners, backlog: this.opts.backlog, accept: this.opts.accept, log: this.log,
      onConnection: (l, s) => this.connections.dispatch(l, s),
      bound: (l) => this.announce(l),
    }).then(({ sockets, dropped }) => {
      this.sockets = sockets;
      this.droppedListeners = dropped;
      this.startFirstGeneration();
    }).catch((err: Error) => this.fatal(err.message));
  }

  private announce(l: Listener): void {
    l.announced = true;
    this.log.info('listening', `listening on ${l.address()}`, { listener: l.name });
    this.emit('listening', { name: l.name, address: l.address(), port: l.port() });
  }

  private startFirstGeneration(): void {
    const gen = this.newGeneration();
    gen.on('failed', (reason) => this.fatal(`generation ${gen.id} failed to start: ${reason}`));
    gen.on('ready', () => {
      if (!this.handoff || !this.parent.askToGo()) void this.becomeServing(gen);
    });
    gen.start();
  }

  /** The new master's side of an upgrade: the old master says go, or goes away. */
  private followParent(): void {
    const first = (): Generation | undefined => this.generations.get(this.handoff?.generation ?? 0);
    this.parent.on('go', () => {
      const gen = first();
      if (gen && this.state === 'starting') void this.becomeServing(gen);
    });
    // The old master left (released us, or died): if we are ready, serve alone.
    this.parent.on('gone', () => {
      const gen = first();
      if (this.state === 'starting' && gen?.complete() === true) void this.becomeServing(gen);
    });
    this.parent.watch();
  }

  /** By default its workers run the script through the user's symlinks: the current release. */
  private newGeneration(exec: WorkerExec = workerExec(this.start), env: EnvOverlay = {}): Generation {
    const id = this.nextGeneration++;
    // errors its workers throw before they load baton reach the reason it failed (early.ts)
    const early = workerPreloads({ generation: id, format: this.opts.logFormat }, () => ({ ...process.env, ...env }));
    const o = this.opts;
    const gen: Generation = new Generation(id, {
      workers: this.workers, exec, env, exitTimeout: o.exitTimeout, readyTimeout: o.readyTimeout, drainTimeout: o.drainTimeout,
      workerTimeout: o.workerTimeout, maxMemory: o.maxMemory, maxRequests: o.maxRequests,
      forkEnv: () => ({ ...this.workerRecords.env(), ...(gen.state === 'starting' ? early.env() : undefined) }),
    }, this.log);
    this.generations.set(id, gen);
    for (const ev of ['ready', 'failed', 'drained'] as const) gen.once(ev, () => early.removeAll());
    const fromUpgrade = this.handoff !== undefined && this.state === 'starting';
    gen.on('worker-ready', (slot) => {
      this.emit('worker-ready', { pid: slot.pid, generation: id });
      if (fromUpgrade && this.state === 'starting') this.parent.send({ type: 'worker-ready', pid: slot.pid, ready: gen.readyCount(), total: gen.target });
      this.connections.flush();
    });
    gen.on('orphans', (sockets) => {
      this.log.debug('orphans', `${sockets.length} connection(s) queued for a worker that died: handed on`);
      for (const [socket, name] of sockets) {
        const l = this.sockets.find((x) => x.name === name);
        if (l && !socket.destroyed) this.connections.dispatch(l, socket, 1);
      }
    });
    gen.on('worker-replaced', (slot, reason) => this.emit('worker-replaced', { pid: slot.pid, generation: id, reason }));
    gen.on('worker-exit', (slot, code, signal, expected) => {
      this.emit('worker-exit', { pid: slot.pid, generation: id, code, signal, expected });
      this.log.debug('worker-exit', `worker ${slot.pid} of generation ${id} exited (${signal ?? `code ${code}`})`, { workerPid: slot.pid });
    });
    // the old master re-emits what its workers report about forced closes
    gen.on('drain-forced', (slot, connections, upgraded) => this.emit('drain-forced', { generation: id, pid: slot.pid, connections, upgraded }));
    gen.on('drained', (forced) => {
      this.generations.delete(id);
      this.log.info('generation-drained', `generation ${id} drained${forced ? ` (${forced} worker(s) killed at drainTimeout)` : ''}`);
      this.emit('generation-drained', { generation: id, forced });
      this.maybeExit();
    });
    // the old master learns every pid, so that a failed upgrade can kill them all
    if (fromUpgrade) gen.on('worker-forked', (slot) => this.parent.send({ type: 'forked', pid: slot.pid }));
    return gen;
  }

  private async becomeServing(gen: Generation, takenBack = false): Promise<void> {
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
  private reportState(): void {
    this.link?.send(this.stateMessage(this.state !== 'starting'));
  }

  private stateMessage(serving: boolean): FromMaster {
    const o = this.opts;
    return { type: 'state', pidFile: o.pidFile, readyTimeout: o.readyTimeout, nextGeneration: this.nextGeneration, workers: this.workers, scaled: this.scaled, probation: o.probation, serving };
  }

  private async openControl(again = false): Promise<void> {
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
  private gate(what: Request): Outcome | undefined {
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

  /** SIGUSR2: replaces this master with a new one started from the current files. */
  upgrade(): Promise<Outcome> {
    const gated = this.gate('upgrade');
    if (gated) return Promise.resolve(gated);
    if (this.link) {
      const remote = this.link.request();
      return new Promise((resolve) => {
        this.followUpgrade(remote, resolve);
        remote.start();
      });
    }
    if (process.pid === 1) {
      const why = 'this master is PID 1: its exit would end the container with the new master in it. Run it with `baton run` (a supervisor that stays), or under an init (docker run --init)';
      this.log.warn('upgrade-refused', `upgrade refused: ${why}`);
      return Promise.resolve({ ok: false, reason: why });
    }
    const o = this.opts;
    const attempt = new UpgradeAttempt({
      relaunch: relaunch(this.start), listeners: this.sockets, generation: this.nextGeneration, workers: this.scaled ? this.workers : undefined,
      readyTimeout: o.readyTimeout, probation: o.probation, pidFile: o.pidFile, env: this.envFile.forNextMaster(), log: this.log,
    });
    return new Promise((resolve) => {
      this.followUpgrade(attempt, resolve);
      attempt.start();
    });
  }

  /** Mirrors an upgrade (run here, or by the supervisor) into this master's state and events. */
  private followUpgrade(attempt: UpgradeAttempt | RemoteUpgrade, resolve: (o: Outcome) => void): void {
    this.upgrading = attempt;
    attempt.on('started', (pid) => {
      this.notifier.reloading(`upgrading: new master ${pid} starting`);
      this.log.info('upgrade-started', `upgrade started: new master ${pid}`, { newPid: pid });
      this.emit('upgrade-started', { pid });
    });
    attempt.on('worker-ready', (pid, ready, total) => this.emit('upgrade-worker-ready', { pid, ready, total }));
    attempt.on('failed', (reason) => {
      this.upgrading = undefined;
      this.log.error('upgrade-failed', `upgrade failed, this master keeps serving: ${reason}`);
      this.emit('upgrade-failed', { reason });
      this.notifier.ready(process.pid, `upgrade failed; generation ${this.generation} serving`);
      resolve({ ok: false, reason });
    });
    attempt.on('serving', (pid, dropped) => {
      this.upgrading = undefined;
      // the new master's first generation took this number; one taken back gets the next
      this.nextGeneration++;
      this.handOver(pid, attempt instanceof UpgradeAttempt ? attempt : undefined);
      this.closeDropped(dropped);
      resolve({ ok: true, pid });
    });
  }

  /** Listeners the new release does not have: nobody accepts on them any more; their socket files go. */
  private closeDropped(names: string[]): void {
    for (const l of this.sockets) {
      if (!names.includes(l.name)) continue;
      l.removePath();
      this.log.info('listener-closed', `${l.address()} (listener "${l.name}") is not in the new release: closed`, { listener: l.name });
    }
  }

  private handOver(pid: number, attempt: UpgradeAttempt | undefined): void {
    this.states.to('handed-over');
    this.exitReason = 'upgraded';
    if (attempt) {
      // Before the servers close their fds: duplicates to take service back with (not under
      // `baton run`, whose supervisor holds the sockets and restarts a master that dies).
      const kept = this.link ? undefined : new KeptSockets(this.sockets);
      const successor = { attempt, kept };
      this.successor = successor;
      kept?.ready.catch((err: Error) => {
        if (this.successor === successor) this.log.warn('keep-failed', `${err.message}: if the new master dies while this one drains, this one cannot take service back`);
      });
      attempt.on('lost', (reason) => this.takeBack(pid, reason));
      attempt.on('moved-on', (what) => {
        // the duplicates would keep queueing connections on a socket nobody accepts on
        this.log.debug('successor-moved-on', `new master ${pid} ${what === 'stopping' ? 'stops' : 'handed over in turn'}: the kept sockets are closed`, { newPid: pid });
        this.letSuccessorGo();
      });
    }
    for (const l of this.sockets) l.stopAccepting();
    // the master that handed over to this one need not watch over it any more
    this.parent.send({ type: 'handed-over', pid });
    this.controlServer?.stopListening(); // the new master has the path now
    this.log.info('upgrade-succeeded', `new master ${pid} serves; this master stopped accepting and drains`, { newPid: pid });
    this.emit('upgrade-succeeded', { pid });
    this.drainAll('upgraded');
    setTitle('master', this.generation, 'old, draining');
    this.connections.flush();
    this.maybeExit();
  }

  /** The new master died after it took over, while this master still drains (lib/upgrade/take-back.ts). */
  private takeBack(pid: number, reason: string): void {
    const kept = this.successor?.kept;
    this.successor = undefined;
    if (this.state !== 'handed-over' || kept === undefined) {
      this.log.warn('successor-lost', `${reason}; this master is ${this.state} and does not take service back`, { newPid: pid });
      kept?.close();
      return;
    }
    this.states.to('starting');
    this.log.error('taking-back', `${reason}; this master takes service back on the sockets it kept`, { newPid: pid });
    this.emit('taking-back', { pid, reason });
    setTitle('master', this.generation, 'taking back');
    const t = new TakeBack({
      kept, sockets: this.sockets, backlog: this.opts.backlog, start: this.start, old: this.serving, log: this.log,
      newGeneration: (exec) => this.newGeneration(exec, this.servingEnv),
    });
    this.takingBack = t;
    t.on('ready', (gen) => void this.becomeServing(gen, true));
    t.on('failed', (why) => {
      this.states.to('handed-over');
      this.exitCode = 1;
      for (const l of this.sockets) l.stopAccepting();
      this.log.error('take-back-failed', `taking service back failed, nothing serves new connections: ${why}`);
      this.emit('take-back-failed', { reason: why });
      this.connections.flush(); // to a draining worker, while one is left
      this.maybeExit();
    });
    void t.run();
  }

  /** No take-back any more: the duplicates go (they would queue connections nobody accepts). */
  private letSuccessorGo(): void {
    this.successor?.kept?.close();
    this.successor = undefined;
  }

  /** SIGHUP: a new generation of workers with freshly loaded app code (lib/pool/reload.ts). */
  reload(): Promise<Outcome> {
    const gated = this.gate('reload');
    if (gated) return Promise.resolve(gated);
    let env: EnvOverlay;
    try {
      env = this.envFile.forGeneration();
    } catch (err) {
      const reason = (err as Error).message;
      this.log.error('reload-failed', `reload failed, generation ${this.serving?.id} keeps serving: ${reason}`);
      this.emit('reload-failed', { generation: this.nextGeneration, reason });
      return Promise.resolve({ ok: false, generation: this.nextGeneration, reason });
    }
    const old = this.serving;
    const r = new ReloadAttempt(this.newGeneration(undefined, env), old, this.opts.probation, () => sharedSockets(this.sockets, this.opts.backlog));
    const gen = r.gen;
    this.reloading = r;
    this.log.info('reload-started', `reload started: generation ${gen.id}`);
    this.notifier.reloading(`reloading: generation ${gen.id} starting`);
    this.emit('reload-started', { generation: gen.id });
    return new Promise((resolve) => {
      r.on('promoted', () => {
        this.serving = gen;
        this.connections.flush();
      });
      r.on('rolled-back', (reason, restored) => {
        this.reloading = undefined;
        if (restored) this.serving = restored;
        this.connections.flush();
        this.log.error('reload-failed', `reload to generation ${gen.id} failed, generation ${this.serving?.id} keeps serving: ${reason}`);
        this.emit('reload-failed', { generation: gen.id, reason });
        this.notifier.ready(process.pid, `reload failed; generation ${this.generation} serving`);
        resolve({ ok: false, generation: gen.id, reason });
      });
      r.on('succeeded', () => {
        this.reloading = undefined;
        this.servingEnv = env;
        this.log.generation = gen.id;
        setTitle('master', gen.id, 'serving');
        this.log.info('reload-succeeded', `generation ${gen.id} serves${old ? `; generation ${old.id} drains` : ''}`);
        this.emit('reload-succeeded', { generation: gen.id });
        this.notifier.ready(process.pid, `generation ${gen.id} serving`);
        this.reportState();
        if (old) this.drainGeneration(old, 'reloaded');
        resolve({ ok: true, generation: gen.id });
      });
      r.start();
    });
  }

  /** SIGTERM / SIGINT / SIGQUIT: stop accepting, drain everything, exit 0. */
  stop(reason = 'stop requested'): void {
    // Only a second *signal* stops at once (lib/os/signals.ts): a stop asked for otherwise
    // (the control socket, the supervisor after Ctrl-C, which also reached us as SIGINT) is not one.
    const counted = isStopSignal(reason) ? this.signals.note(reason) : 'first';
    // a master asked to stop does not take service back
    this.successor?.attempt.release();
    this.letSuccessorGo();
    this.takingBack?.cancel();
    this.parent.send({ type: 'stopping' });
    if (this.states.leaving) {
      if (counted === 'again') return;
      if (counted === 'first') {
        this.log.info('stopping', `${reason}: already ${this.state === 'stopping' ? 'stopping' : 'draining (handed over)'}`);
        return;
      }
      this.log.warn('forced-stop', `${reason} again: stopping now`);
      for (const g of this.generations.values()) g.abort();
      process.exit(1);
    }
    const wasServing = this.state === 'serving';
    this.states.to('stopping');
    this.exitReason = reason;
    this.log.info('stopping', `${reason}: stopping gracefully`);
    this.emit('stopping', { reason });
    this.notifier.stopping();
    setTitle('master', this.generation, 'stopping');
    this.upgrading?.fail(`stopped by ${reason}`);
    for (const l of this.sockets) l.stopAccepting();
    if (wasServing || !this.handoff) {
      for (const l of this.sockets) l.removePath();
      this.controlServer?.remove();
    } else this.controlServer?.stopListening();
    this.connections.dropPending();
    this.drainAll(reason);
    this.maybeExit();
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

  private drainAll(reason: string): void {
    this.reloading?.abort();
    this.reloading = undefined;
    for (const g of this.generations.values()) this.drainGeneration(g, reason);
  }

  private drainGeneration(gen: Generation, reason: string): void {
    if (gen.state === 'draining' || gen.state === 'done') return;
    this.log.info('generation-draining', `generation ${gen.id} drains (${reason})`);
    this.emit('generation-draining', { generation: gen.id, reason });
    gen.drain(reason);
  }

  private maybeExit(): void {
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

  private fatal(reason: string): void {
    this.log.error('start-failed', reason);
    this.parent.send({ type: 'error', message: reason });
    for (const g of this.generations.values()) g.abort();
    if (this.opts.pidFile !== undefined && readPidFile(this.opts.pidFile) === process.pid) removePidFileIf(this.opts.pidFile, process.pid);
    setTimeout(() => process.exit(1), 50);
  }
}
