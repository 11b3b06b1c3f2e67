// The master role: a coordinator. It owns the listening sockets, its generations and its
// state (lib/master/states.ts: the table of states, transitions and what each request may
// do in each), and delegates each change to a piece that reports back by events: its
// start-up (startup.ts), its upgrades (upgrades.ts: SIGUSR2) and reloads (reloads.ts: SIGHUP);
// a stop is its own. Only this file changes the state; what the world sees of it is surface.ts.
import { EventEmitter } from 'node:events';
import type { Generation } from '../pool/generation';
import { PROBATION_SHARE } from '../pool/probation';
import type { EnvOverlay } from '../config/envfile';
import type { ListenerSpec, ResolvedOptions } from '../config/types';
import type { ExitHook } from '../worker/exit-hooks';
import { workerExec, type WorkerExec } from '../os/relaunch';
import type { Predecessor } from '../upgrade/predecessor';
import { SocketLedger, type Listener } from '../sockets/ledger';
import { Commands, type CommandTarget, type Outcome } from '../control/commands';
import { setTitle } from '../os/title';
import { takeOverUncaught } from '../os/fatal';
import { isStopSignal, STOP_SIGNALS, StopSignals } from '../os/signals';
import type { FromMaster } from '../messages';
import { forward, type MasterEvents } from './events';
import { masterContext, type MasterContext, type MasterView } from './context';
import { renderStatus } from './status';
import { States, type MasterState } from './states';
import { GENERATION_EVENTS, Generations } from './generations';
import { Startup } from './startup';
import { Upgrades } from './upgrades';
import { Reloads } from './reloads';

export type { MasterEvents } from './events';
export type { MasterState } from './states';

export class Master extends EventEmitter<MasterEvents> {
  readonly role = 'master' as const;
  private readonly states: States;
  /** Its listening sockets, from its start to its exit (lib/sockets/ledger.ts). */
  private readonly ledger = new SocketLedger();
  /** Its generations by number, as its pool holds them (lib/master/generations.ts). */
  readonly generations: Map<number, Generation>;
  private readonly pool: Generations;
  serving: Generation | undefined;
  private readonly startup: Startup;
  private readonly reloads: Reloads;
  private readonly upgrades: Upgrades;
  /** How it was started, its parent, log, envFile, surface, supervisor link (lib/master/context.ts). */
  private readonly c: MasterContext;
  /** What its pieces may read of it. */
  private readonly view: MasterView = {
    state: () => this.state, sockets: () => this.sockets, serving: () => this.serving, generation: () => this.generation,
    nextGeneration: () => this.pool.next, workersForNext: () => (this.scaled ? this.workers : undefined),
  };
  private readonly signals = new StopSignals();
  /** 1 once a take-back failed: the service ended with this master, not by a stop. */
  private exitCode = 0;
  /** Workers per generation: the option, or what scaling made of it (kept across upgrades). The one count: a generation's target is set from it. */
  workers: number;
  private scaled = false;
  readonly startedAt = Date.now();
  /** The envFile variables the serving generation was started with (a take-back reuses them). */
  private servingEnv: EnvOverlay = {};
  /** What beforeExit functions are told: the stop's reason, or 'upgraded'. */
  private exitReason = 'stopping';
  private announcing: Promise<void> | undefined; // upgrade-succeeded, said once its workers closed their duplicates

  constructor(private opts: ResolvedOptions, specs: ListenerSpec[]) {
    super();
    // the observation reads it as lib/observe/observer.ts's ObservedMaster: its state, generations, events
    this.c = masterContext(opts, this);
    const { handoff, log, link, parent } = this.c;
    log.sink = (r) => this.emit('log', r);
    parent.on('roll-back', (reason) => this.stop(reason, true)); // the old master's canary failed this one
    link?.on('upgrade', (u) => this.upgrades.adopt(u));
    link?.on('stop', () => this.state !== 'stopping' && this.stop('stop requested by the supervisor'));
    this.states = new States(log, () => ({ reloading: this.reloads.busy, upgrading: this.upgrades.busy }));
    this.workers = handoff?.workers ?? opts.workers;
    this.scaled = handoff?.workers !== undefined;
    this.pool = new Generations(handoff?.generation ?? 1, this, opts, log, this.view);
    this.generations = this.pool.all;
    forward(this.pool, this, GENERATION_EVENTS);
    this.pool.on('generation-drained', () => this.maybeExit());
    this.startup = new Startup(this.c, opts, specs, this.view, this.ledger, () => this.newGeneration({}, handoff ? this.c.parent : undefined));
    this.upgrades = this.followUpgrades();
    this.reloads = this.followReloads();
  }

  get sockets(): Listener[] {
    return this.ledger.all;
  }

  get state(): MasterState {
    return this.states.state;
  }

  /** Clean-up run when this master exits (after its generations are gone), bounded by exitTimeout. */
  beforeExit(fn: ExitHook): this {
    this.c.exitHooks.add(fn);
    return this;
  }

  get generation(): number {
    return this.serving?.id ?? this.pool.next;
  }

  /** In the master, readiness belongs to the workers: a no-op kept for symmetry. */
  ready(): void {}

  get readyTimeout(): number {
    return this.opts.readyTimeout;
  }

  run(): void {
    setTitle('master', this.generation, 'starting');
    takeOverUncaught(this.c.log);
    // what each signal asks, as nginx has it; USR1 goes to the workers (nginx reopens its logs
    // on USR1; a listener on it also keeps Node from starting its inspector)
    process.on('SIGUSR2', () => void this.upgrade());
    process.on('SIGHUP', () => void this.reload());
    for (const sig of STOP_SIGNALS) process.on(sig, () => this.stop(sig));
    process.on('SIGTTIN', () => void this.scale(this.workers + 1));
    process.on('SIGTTOU', () => void this.scale(this.workers - 1));
    process.on('SIGUSR1', () => {
      this.c.log.info('signal-passed', 'SIGUSR1 passed to the workers');
      this.pool.broadcast({ type: 'signal', signal: 'SIGUSR1' });
    });
    const { startup } = this;
    startup.on('listening', (info) => this.emit('listening', info));
    startup.on('serve', (gen) => void this.becomeServing(gen));
    startup.on('failed', (reason) => this.fatal(reason));
    startup.run(this.generations, (l, s) => this.pool.connections.dispatch(l, s));
    void this.c.observation.start(this.c.handoff !== undefined);
  }

  private async becomeServing(gen: Generation, takenBack = false): Promise<void> {
    // Under `baton run`, the supervisor holds the sockets and knows this master serves before
    // it accepts anything: killed a moment later, it is still replaced (not given up on).
    if (this.c.link && !this.c.handoff) await this.c.link.hold(this.sockets, this.stateMessage(true));
    for (const l of this.sockets) await l.accept();
    gen.markServing(this.startup.probation(takenBack));
    this.serve(gen);
    this.states.to('serving');
    this.c.log.generation = gen.id;
    await this.c.surface.serving(gen, takenBack, () => new Commands(this.commandTarget(), this.c.observation.observer));
    this.emit('serving', { generation: gen.id });
    this.startup.served(takenBack);
    this.c.link?.send(this.stateMessage());
    for (const what of this.states.takeQueued()) {
      this.c.log.info('signal-replayed', `carrying out the ${what} requested during start-up`);
      if (what === 'reload') void this.reload();
      else void this.upgrade();
    }
  }

  /** What the control socket's commands may do with this master (lib/control/commands.ts): ask and read, not change its state. */
  private commandTarget(): CommandTarget {
    const { generations, opts: { readyTimeout } } = this;
    return {
      generations, readyTimeout, serving: () => this.serving, status: () => this.status(),
      upgrade: () => this.upgrade(), reload: () => this.reload(), stop: (reason) => this.stop(reason), scale: (n) => this.scale(n),
      on: this.on.bind(this), once: this.once.bind(this), removeListener: this.removeListener.bind(this),
    };
  }

  /** What the supervisor (`baton run`) needs to start the next master. */
  private stateMessage(serving = this.state !== 'starting'): FromMaster {
    const { pidFile, readyTimeout, probation, drainTimeout } = this.opts;
    return { type: 'state', pidFile, readyTimeout, nextGeneration: this.pool.next, workers: this.workers, scaled: this.scaled, probation, serving, drainTimeout };
  }

  /** SIGUSR2: replaces this master with a new one started from the current files (lib/master/upgrades.ts). */
  upgrade(): Promise<Outcome> {
    return Promise.resolve(this.states.gate('upgrade') ?? this.upgrades.start());
  }

  /** The upgrades piece reports; this master moves its state. */
  private followUpgrades(): Upgrades {
    const u = new Upgrades(this.c, this.opts, this.view, (exec) => this.newGeneration(this.servingEnv, undefined, exec));
    forward(u, this, ['upgrade-started', 'upgrade-worker-ready', 'upgrade-failed']);
    // As a reload's generation: the new master alone takes new connections during its probation
    // (when both accept, the old, warm workers win nearly every one and the canary has nothing to
    // judge). A connection that arrives while neither accepts waits in the listen backlog.
    u.on('probation', () => this.onProbation(undefined));
    // rolled back, or the new master died: this master takes every new connection again
    u.on('upgrade-failed', () => {
      if (this.state === 'serving' && this.serving) this.serve(this.serving);
    });
    u.on('handed-over', (pid, dropped) => this.handOver(pid, dropped));
    u.on('taking-back', (info) => {
      this.states.to('starting');
      this.emit('taking-back', info);
    });
    u.on('taken-back', (gen) => void this.becomeServing(gen, true));
    u.on('take-back-failed', (info) => {
      this.states.to('handed-over');
      this.exitCode = 1;
      this.ledger.stopAccepting();
      this.emit('take-back-failed', info);
      this.pool.connections.flush(); // to a draining worker, while one is left
      this.maybeExit();
    });
    return u;
  }

  private handOver(pid: number, dropped: string[]): void {
    this.states.to('handed-over');
    for (const l of this.sockets.filter((s) => dropped.includes(s.name))) {
      l.removePath(); // nobody accepts on it any more
      this.c.log.info('listener-closed', `${l.address()} (listener "${l.name}") is not in the new release: closed`, { listener: l.name });
    }
    this.pool.next++; // the new master's first generation took this number; one taken back gets the next
    this.exitReason = 'upgraded';
    this.ledger.stopAccepting();
    this.c.parent.send({ type: 'handed-over', pid }); // the master before this one may stop watching
    this.c.surface.releaseControl(false); // the new master has the path now
    this.drainAll('upgraded');
    setTitle('master', this.generation, 'old, draining');
    this.pool.connections.flush();
    this.announcing = this.pool.acceptorsClosed(1_000).then(() => {
      this.c.log.info('upgrade-succeeded', `new master ${pid} serves; this master stopped accepting and drains`, { newPid: pid });
      this.emit('upgrade-succeeded', { pid });
      this.announcing = undefined;
      this.maybeExit();
    });
  }

  /** SIGHUP: a new generation of workers with freshly loaded app code (lib/master/reloads.ts). */
  reload(): Promise<Outcome> {
    return Promise.resolve(this.states.gate('reload') ?? this.reloads.start());
  }

  /** The reloads piece reports; this master moves what serves. */
  private followReloads(): Reloads {
    const r = new Reloads(this.c, this.opts, this.view, (env) => this.newGeneration(env));
    forward(r, this, ['reload-started', 'reload-failed', 'reload-succeeded']);
    r.on('promoted', (gen) => this.onProbation(gen));
    r.on('rolled-back', (restored) => {
      if (restored) this.serve(restored);
    });
    r.on('succeeded', (old, env) => {
      this.servingEnv = env;
      this.c.link?.send(this.stateMessage());
      if (old) this.pool.drain(old, 'reloaded');
    });
    return r;
  }

  /** `gen` takes the new connections from now on (lib/pool/intake.ts); the one before stops. */
  private serve(gen: Generation): void {
    this.pool.serve(gen);
    this.serving = gen;
  }

  /**
   * New code goes on probation: a reload's generation (`gen`), or the next master (none of this
   * master's generations then takes new connections). Clients that keep their connections would
   * meet it only at the drain: half of the serving generation's keep-alive connections move now,
   * so that it serves, and warms up, beside the old code while there is still something to roll
   * back to.
   */
  private onProbation(gen: Generation | undefined): void {
    const old = this.serving;
    if (gen) this.serve(gen);
    else this.pool.hold();
    if (this.opts.probation > 0) old?.accepting.shedShare(PROBATION_SHARE);
  }

  /** SIGTTIN / SIGTTOU / `baton scale N`: workers per generation, at least 1. */
  scale(n: number): Promise<Outcome> {
    const gated = this.states.gate('scale', n);
    if (gated) return Promise.resolve(gated);
    this.workers = n;
    this.scaled = true;
    this.c.log.info('scaled', `workers per generation: ${n}`);
    this.emit('scaled', { workers: n });
    this.c.link?.send(this.stateMessage());
    this.serving?.scale(n);
    this.reloads.scale(n);
    return Promise.resolve({ ok: true, generation: this.generation });
  }

  /** What `baton status` shows. */
  status(): Record<string, unknown> {
    const { generation, state, startedAt, workers, sockets } = this, u = this.upgrades.busy;
    return renderStatus({ generation, state, startedAt, workers, sockets, upgradePid: u ? u.pid ?? null : undefined, generations: this.generations.values() });
  }

  /** SIGTERM / SIGINT / SIGQUIT: stop accepting, drain everything, exit 0. `rolledBack`: the old master's canary failed this one, which leaves it the socket files and the pid file. */
  stop(reason = 'stop requested', rolledBack = false): void {
    // Only a second *signal* stops at once (lib/os/signals.ts): a stop asked for otherwise
    // (the control socket, the supervisor after Ctrl-C, which also reached us as SIGINT) is not one.
    const counted = isStopSignal(reason) ? this.signals.note(reason) : 'first';
    // a master asked to stop does not take service back
    this.upgrades.release();
    this.c.parent.send({ type: 'stopping' });
    if (this.states.leaving) {
      if (counted === 'again') return;
      if (counted === 'first') {
        this.c.log.info('stopping', `${reason}: already ${this.state === 'stopping' ? 'stopping' : 'draining (handed over)'}`);
        return;
      }
      this.c.log.warn('forced-stop', `${reason} again: stopping now`);
      this.pool.abortAll();
      process.exit(1);
    }
    if (!rolledBack && this.c.observation.delayStop(reason, () => this.stop(`${reason}, after shutdownDelay`))) return;
    const own = !rolledBack && (this.state === 'serving' || !this.c.handoff); // the socket files are this master's to remove
    this.states.to('stopping');
    this.exitReason = reason;
    this.c.log.info('stopping', `${reason}: stopping gracefully`);
    this.emit('stopping', { reason });
    this.c.surface.stopping(this.generation, !rolledBack);
    this.upgrades.fail(`stopped by ${reason}`);
    this.ledger.stopAccepting();
    if (own) this.ledger.removePaths();
    this.c.surface.releaseControl(own);
    this.pool.connections.dropPending();
    this.drainAll(reason);
    this.maybeExit();
  }

  /**
   * A generation (created, not started) of this master's worker count. By default its workers run
   * the script through the user's symlinks: the current release. `parent`: the old master, which
   * follows a new master's first generation.
   */
  private newGeneration(env: EnvOverlay, parent?: Predecessor, exec: WorkerExec = workerExec(this.c.start)): Generation {
    return this.pool.create(exec, env, this.workers, parent);
  }

  /** Every generation drains; a reload in progress is aborted first (its trial ends, its new generation is stopped). */
  private drainAll(reason: string): void {
    this.reloads.abort();
    this.pool.drainAll(reason);
  }

  private maybeExit(): void {
    if (!this.states.leaving || this.generations.size > 0 || this.announcing) return;
    this.upgrades.letGo();
    this.c.surface.leave(this.state === 'stopping');
    this.emit('exiting');
    this.c.surface.exit(this.exitCode, this.exitReason);
  }

  private fatal(reason: string): void {
    this.c.log.error('start-failed', reason);
    this.c.parent.send({ type: 'error', message: reason });
    this.pool.abortAll();
    this.c.surface.fatal();
  }
}
