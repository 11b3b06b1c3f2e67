// The master role: holds the listening sockets, accepts connections and hands them to
// the serving generation's workers, and runs the signal-driven life cycle:
//
//   SIGUSR2          upgrade: spawn a replacement master with the sockets (upgrade.ts)
//   SIGHUP           reload: a new generation in this master, the old one drains
//   SIGTERM/INT/QUIT graceful stop; a second SIGTERM/SIGINT stops at once
//
// States: starting -> serving -> (handed-over | stopping) -> exit.
// handed-over -> starting -> serving: the new master died while this one still drained,
// and this one takes service back on the sockets it kept (lib/sockets/keep.ts).
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Generation, type SharedSocket } from '../pool/generation';
import { Dispatcher } from '../pool/dispatch';
import { EnvFile, type EnvOverlay } from '../config/envfile';
import { ExitHooks, type ExitHook } from '../worker/exit-hooks';
import { HANDOFF_ENV, readHandoff, type Handoff } from '../upgrade/handoff';
import { takeActivatedSockets } from '../sockets/activation';
import { closeFd, describeSpec, Listener, matchInherited, type ListenerSpec } from '../sockets/listeners';
import { Logger, type LogRecord } from '../log/log';
import { isBaton, type FromMaster } from '../messages';
import { Predecessor } from '../upgrade/predecessor';
import { KeptSockets } from '../sockets/keep';
import type { ResolvedOptions } from '../config/options';
import { checkPidFileWritable, oldbinPath, readPidFile, removePidFileIf, writePidFile } from './pidfile';
import { captureStart, pinnedExec, relaunch, workerExec, type StartContext, type WorkerExec } from '../upgrade/relaunch';
import { ControlServer } from '../control/socket';
import { Commands } from '../control/commands';
import { Notifier } from '../os/notify';
import { setTitle } from '../os/title';
import { takeOverUncaught } from '../os/fatal';
import { workerPreloads } from '../upgrade/early';
import { WorkerRecords } from '../log/worker-records';
import { UpgradeAttempt } from '../upgrade/attempt';
import { RemoteUpgrade, SupervisorLink, takeSupervisedMarker } from '../supervisor/supervised';

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
  'upgrade-worker-ready': [info: { pid: number; ready: number; total: number }];
  'upgrade-succeeded': [info: { pid: number }];
  'upgrade-failed': [info: { reason: string }];
  'reload-started': [info: { generation: number }];
  'reload-succeeded': [info: { generation: number }];
  'reload-failed': [info: { generation: number; reason: string }];
  'generation-draining': [info: { generation: number; reason: string }];
  'generation-drained': [info: { generation: number; forced: number }];
  /** A draining worker closed connections by force at drainTimeout (`upgraded`: how many were WebSockets or other upgrades). */
  'drain-forced': [info: { generation: number; pid: number; connections: number; upgraded: number }];
  stopping: [info: { reason: string }];
  scaled: [info: { workers: number }];
  /** Every generation drained; the process exits right after. */
  exiting: [];
  'worker-replaced': [info: { pid: number; generation: number; reason: string }];
  /** The new master died after it took over, while this one still drained: this one serves again. */
  'taking-back': [info: { pid: number; reason: string }];
  /** Taking service back failed (the fresh generation could not start): this one drains and exits. */
  'take-back-failed': [info: { reason: string }];
  log: [record: LogRecord];
}


export class Master extends EventEmitter<MasterEvents> {
  readonly role = 'master' as const;
  state: MasterState = 'starting';
  sockets: Listener[] = [];
  readonly generations = new Map<number, Generation>();
  serving: Generation | undefined;
  private reloading: Generation | undefined;
  private upgrading: UpgradeAttempt | RemoteUpgrade | undefined;
  /** The upgrade this master handed over to, followed while it drains (nginx mode). */
  private successor: UpgradeAttempt | undefined;
  /** Duplicates of the listening sockets, kept after the hand-over to take service back. */
  private kept: KeptSockets | undefined;
  /** Set when this master runs under `baton run`: the supervisor performs upgrades. */
  private readonly link: SupervisorLink | undefined;
  /** systemd notifications (Type=notify); under `baton run` the supervisor sends them. */
  private readonly notifier: Notifier;
  private queued = new Set<'upgrade' | 'reload'>();
  /** Hands each accepted connection to a worker (dispatch.ts). */
  private readonly connections: Dispatcher;
  private nextGeneration: number;
  private readonly log: Logger;
  /** Worker records for the 'log' event. */
  private readonly workerRecords: WorkerRecords;
  private readonly start: StartContext;
  private readonly handoff: Handoff | undefined;
  /** The channel to whoever spawned this master (the old master after an upgrade). */
  private readonly parent = new Predecessor();
  private signalCount = 0;
  /** 1 once a take-back failed: the service ended with this master, not by a stop. */
  private exitCode = 0;
  /** Inherited listeners this release does not have (told to the old master). */
  private droppedListeners: string[] = [];
  /** Workers per generation: the option, or what scaling made of it (kept across upgrades). */
  workers: number;
  private scaled = false;
  private controlServer: ControlServer | undefined;
  readonly startedAt = Date.now();
  /** The envFile option: read at start, and again for each new generation. */
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
    this.log = new Logger('master', this.nextGeneration, opts.logLevel, opts.logFormat, opts.logger);
    this.log.sink = (r) => this.emit('log', r);
    this.workerRecords = new WorkerRecords(this, (m) => {
      for (const g of this.generations.values()) g.broadcast(m);
    });
    this.connections = new Dispatcher({
      serving: () => this.serving,
      handedOver: () => this.state === 'handed-over',
      generations: () => this.generations.values(),
    }, this.log);
    if (takeSupervisedMarker()) {
      this.link = new SupervisorLink(
        (u) => {
          if (this.state === 'serving' && !this.upgrading) this.followUpgrade(u, () => undefined);
        },
        () => {
          if (this.state !== 'stopping') this.stop('stop requested by the supervisor');
        },
      );
    }
    this.link?.send({ type: 'hello', readyTimeout: opts.readyTimeout });
    this.notifier = new Notifier(this.log, this.link === undefined);
    if (opts.pidFile !== undefined) checkPidFileWritable(opts.pidFile);
    this.exitHooks = new ExitHooks(this.log);
    this.envFile = new EnvFile(opts.envFile, this.start.cwd, this.log);
    this.envFile.load();
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

  run(): void {
    setTitle('master', this.generation, 'starting');
    takeOverUncaught(this.log);
    this.installSignals();
    if (this.handoff) this.watchParent();
    this.open()
      .then(() => this.startFirstGeneration())
      .catch((err: Error) => this.fatal(err.message));
  }

  // ---- start-up ---------------------------------------------------------------

  private async open(): Promise<void> {
    const onConnection = (l: Listener, s: Socket): void => this.connections.dispatch(l, s);
    // Sockets this master does not bind: the previous master's, or systemd's at a first start.
    const given = this.handoff?.listeners ?? takeActivatedSockets(this.specs, this.log);
    const { adopt, unused } = matchInherited(this.specs, given);
    for (const u of unused) {
      // a release that dropped this listener: only the old master holds it now; it closes it when it hands over
      closeFd(u.fd);
      this.droppedListeners.push(u.spec.name);
      this.log.info('listener-dropped', `listener "${u.spec.name}" (${describeSpec(u.spec)}) is not in this release: closed the inherited fd ${u.fd}`, { listener: u.spec.name });
    }
    for (const spec of this.specs) {
      const from = adopt.get(spec.name);
      const l = from !== undefined
        // listen(2) on a listening socket sets its backlog anew: always baton's option (systemd's too)
        ? Listener.adopt(spec, from.fd, this.opts.backlog, onConnection, this.opts.accept === 'workers')
        : await Listener.bind(spec, this.opts.backlog, onConnection);
      l.onAcceptError = (err) => this.log.warn('accept-error', `${l.address()}: ${err.message}`);
      this.sockets.push(l);
      if (from !== undefined) {
        l.external = from.external === true;
        const why = l.applyMode();
        if (why !== undefined) this.log.warn('listener-mode', `${l.address()}: cannot set mode ${spec.mode?.toString(8)}: ${why}`);
        this.log.debug('listener-adopted', `${l.address()} inherited at fd ${from.fd}${from.spec.name !== spec.name ? ` (was "${from.spec.name}")` : ''}`);
      } else if (this.handoff) this.log.info('listener-added', `${l.address()} (listener "${l.name}") is new in this release: bound`, { listener: l.name });
      else this.announce(l);
    }
    await this.detach();
    // the old master re-emits what its workers report about forced closes
    cluster.on('message', (worker, m: unknown) => {
      if (!isBaton(m) || m.type !== 'drain-forced') return;
      const f = m as unknown as { connections: number; upgraded: number };
      for (const g of this.generations.values()) {
        if (![...g.slots.values()].some((s) => s.worker === worker)) continue;
        this.emit('drain-forced', { generation: g.id, pid: worker.process.pid ?? -1, connections: f.connections, upgraded: f.upgraded });
      }
    });
  }

  /**
   * The TCP sockets this master bound are accepted on by its workers, not by itself: it
   * holds a duplicate of each that it never polls (from the helper of lib/sockets/keep.ts) and
   * closes the server it bound with. Connections it accepted meanwhile wait in the
   * dispatcher for the first worker. Sockets it adopted are held so from the start.
   */
  private async detach(): Promise<void> {
    if (this.opts.accept !== 'workers') return;
    const detachable = this.sockets.filter((l) => l.detachable);
    if (detachable.length === 0) return;
    const kept = new KeptSockets(detachable);
    try {
      const handles = await kept.ready;
      for (const l of detachable) {
        const h = handles.get(l.name);
        if (h === undefined) continue;
        kept.use(h);
        l.holdRaw(h);
      }
    } catch (err) {
      this.log.warn('detach-failed', `${(err as Error).message}: this master accepts the connections of ${detachable.map((l) => l.address()).join(', ')} itself and hands each to a worker`);
    } finally {
      kept.close();
    }
  }

  /** The sockets the serving generation's workers accept on themselves. */
  private shared(): SharedSocket[] {
    const out: SharedSocket[] = [];
    for (const l of this.sockets) {
      const handle = l.workerHandle();
      if (handle !== undefined) out.push({ listener: l.name, handle, backlog: this.opts.backlog });
    }
    return out;
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
      if (this.handoff) this.askParentToGo();
      else void this.becomeServing(gen);
    });
    gen.start();
  }

  /** By default its workers run the script through the user's symlinks: the current release. */
  private newGeneration(exec: WorkerExec = workerExec(this.start), env: EnvOverlay = {}): Generation {
    const id = this.nextGeneration++;
    // errors its workers throw before they load baton reach the reason it failed (early.ts)
    const early = workerPreloads({ generation: id, format: this.opts.logFormat }, () => ({ ...process.env, ...env }));
    const gen: Generation = new Generation(id, {
      workers: this.workers,
      exec,
      env,
      exitTimeout: this.opts.exitTimeout,
      forkEnv: () => ({ ...this.workerRecords.env(), ...(gen.state === 'starting' ? early.env() : undefined) }),
      readyTimeout: this.opts.readyTimeout,
      drainTimeout: this.opts.drainTimeout,
      workerTimeout: this.opts.workerTimeout,
      maxMemory: this.opts.maxMemory,
      maxRequests: this.opts.maxRequests,
    }, this.log);
    this.generations.set(id, gen);
    for (const ev of ['ready', 'failed', 'drained'] as const) gen.once(ev, () => early.removeAll());
    gen.on('worker-ready', (slot) => {
      this.emit('worker-ready', { pid: slot.pid, generation: id });
      if (this.handoff && this.state === 'starting') {
        this.parent.send({ type: 'worker-ready', pid: slot.pid, ready: gen.readyCount(), total: gen.target });
      }
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
    gen.on('drained', (forced) => {
      this.generations.delete(id);
      this.log.info('generation-drained', `generation ${id} drained${forced ? ` (${forced} worker(s) killed at drainTimeout)` : ''}`);
      this.emit('generation-drained', { generation: id, forced });
      this.maybeExit();
    });
    if (this.handoff && this.state === 'starting') {
      // the old master learns every pid, so that a failed upgrade can kill them all
      gen.on('worker-forked', (slot) => this.parent.send({ type: 'forked', pid: slot.pid }));
    }
    return gen;
  }

  private async becomeServing(gen: Generation, takenBack = false): Promise<void> {
    // Under `baton run`, the supervisor holds the sockets and knows this master serves before
    // it accepts anything: killed a moment later, it is still replaced (not given up on).
    if (this.link && !this.handoff) await this.link.hold(this.sockets, this.stateMessage(true));
    for (const l of this.sockets) await l.accept();
    gen.markServing();
    gen.acceptOn(this.shared());
    // Spawned by an upgrade: the old master still accepts and waits `probation` ms before it
    // hands over; a worker lost in that time fails this master, and the old one goes on.
    if (this.handoff && !takenBack) gen.probationUntil = Date.now() + this.opts.probation;
    this.serving = gen;
    this.state = 'serving';
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
    return {
      type: 'state',
      pidFile: this.opts.pidFile,
      readyTimeout: this.opts.readyTimeout,
      nextGeneration: this.nextGeneration,
      workers: this.workers,
      scaled: this.scaled,
      probation: this.opts.probation,
      serving,
    };
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

  // ---- talking to the previous master (when this one was spawned by an upgrade) ----

  private watchParent(): void {
    const first = (): Generation | undefined => this.generations.get(this.handoff?.generation ?? 0);
    this.parent.watch({
      go: () => {
        const gen = first();
        if (gen && this.state === 'starting') void this.becomeServing(gen);
      },
      release: () => {
        const gen = first();
        if (gen) gen.probationUntil = 0; // the old master has handed over
      },
      gone: () => {
        // The old master left (released us, or died). If we are ready, serve alone; with
        // nobody to roll back to, a probation makes no sense any more.
        const gen = first();
        if (gen) gen.probationUntil = 0;
        if (this.state === 'starting' && gen && gen.readyCount() === this.opts.workers) void this.becomeServing(gen);
      },
    });
  }

  private askParentToGo(): void {
    if (this.parent.connected) this.parent.send({ type: 'ready', pid: process.pid });
    else {
      const gen = this.generations.get(this.handoff?.generation ?? 0);
      if (gen) void this.becomeServing(gen);
    }
  }

  // ---- signals ----------------------------------------------------------------------

  private installSignals(): void {
    process.on('SIGUSR2', () => void this.upgrade());
    process.on('SIGHUP', () => void this.reload());
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, () => this.stop(sig));
    process.on('SIGTTIN', () => void this.scale(this.workers + 1));
    process.on('SIGTTOU', () => void this.scale(this.workers - 1));
    // nginx reopens its logs on USR1; baton passes it to the workers as a 'signal' event.
    // (A listener on SIGUSR1 also keeps Node from starting its inspector on it.)
    process.on('SIGUSR1', () => {
      this.log.info('signal-passed', 'SIGUSR1 passed to the workers');
      for (const g of this.generations.values()) g.broadcast({ type: 'signal', signal: 'SIGUSR1' });
    });
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
    if (this.link) {
      const remote = this.link.request();
      return new Promise((resolve) => {
        this.followUpgrade(remote, resolve);
        remote.start();
      });
    }
    if (process.pid === 1) {
      return Promise.resolve(this.refuse('upgrade', 'this master is PID 1: its exit would end the container with the new master in it. Run it with `baton run` (a supervisor that stays), or under an init (docker run --init)'));
    }
    const attempt = new UpgradeAttempt({
      relaunch: relaunch(this.start),
      listeners: this.sockets,
      generation: this.nextGeneration,
      workers: this.scaled ? this.workers : undefined,
      readyTimeout: this.opts.readyTimeout,
      probation: this.opts.probation,
      pidFile: this.opts.pidFile,
      env: this.envFile.forNextMaster(),
      log: this.log,
    });
    return new Promise((resolve) => {
      this.followUpgrade(attempt, resolve);
      attempt.start();
    });
  }

  /** Mirrors an upgrade (run here, or by the supervisor) into this master's state and events. */
  private followUpgrade(attempt: UpgradeAttempt | RemoteUpgrade, resolve: (o: Outcome) => void): void {
    this.upgrading = attempt;
    {
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
      attempt.on('serving', (pid) => {
        this.upgrading = undefined;
        // the new master's first generation took this number; one taken back gets the next
        this.nextGeneration++;
        if (attempt instanceof UpgradeAttempt) {
          this.successor = attempt;
          attempt.on('lost', (reason) => void this.takeBack(pid, reason));
          attempt.on('moved-on', (what) => {
            // the duplicates would keep queueing connections on a socket nobody accepts on
            this.log.debug('successor-moved-on', `new master ${pid} ${what === 'stopping' ? 'stops' : 'handed over in turn'}: the kept sockets are closed`, { newPid: pid });
            this.letSuccessorGo();
          });
        }
        this.handOver(pid);
        this.closeDropped(attempt.dropped);
        resolve({ ok: true, pid });
      });
    }
  }

  /** Listeners the new release does not have: nobody accepts on them any more; their socket files go. */
  private closeDropped(names: string[]): void {
    for (const l of this.sockets) {
      if (!names.includes(l.name)) continue;
      l.removePath();
      this.log.info('listener-closed', `${l.address()} (listener "${l.name}") is not in the new release: closed`, { listener: l.name });
    }
  }

  private handOver(pid: number): void {
    this.state = 'handed-over';
    this.exitReason = 'upgraded';
    // Before the servers close their fds: duplicates to take service back with (not under
    // `baton run`, whose supervisor holds the sockets and restarts a master that dies).
    if (!this.link) {
      const kept = new KeptSockets(this.sockets);
      this.kept = kept;
      kept.ready.catch((err: Error) => {
        if (this.kept === kept) this.log.warn('keep-failed', `${err.message}: if the new master dies while this one drains, this one cannot take service back`);
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

  /**
   * The new master died after it took over, while this master still drains (nginx mode):
   * listen again on the kept duplicates and start a fresh generation of the release this
   * master's workers ran. Connections wait in the dispatcher (and the backlog) meanwhile.
   */
  private async takeBack(pid: number, reason: string): Promise<void> {
    const kept = this.kept;
    this.successor = undefined;
    this.kept = undefined;
    if (this.state !== 'handed-over' || kept === undefined) {
      this.log.warn('successor-lost', `${reason}; this master is ${this.state} and does not take service back`, { newPid: pid });
      kept?.close();
      return;
    }
    this.state = 'starting';
    this.log.error('taking-back', `${reason}; this master takes service back on the sockets it kept`, { newPid: pid });
    this.emit('taking-back', { pid, reason });
    setTitle('master', this.generation, 'taking back');
    try {
      const handles = await kept.ready;
      for (const l of this.sockets) {
        const h = handles.get(l.name);
        if (h === undefined) continue;
        kept.use(h);
        await l.resume(h, this.opts.backlog);
      }
    } catch (err) {
      kept.close();
      this.takeBackFailed(`cannot listen again: ${(err as Error).message}`);
      return;
    }
    kept.close();
    if (this.state !== 'starting') return; // stopped meanwhile
    // The release this master's own generation ran, even if `current` points elsewhere now
    // (the new release may be why the new master died); failing that, the current release.
    const old = this.serving;
    const pinned = old?.loaded;
    const current = workerExec(this.start);
    const differs = pinned !== undefined && pinnedExec(current)?.script !== pinned.script;
    const attempt = (exec: WorkerExec | undefined, what: string, last: boolean): void => {
      const gen = this.newGeneration(exec, this.servingEnv);
      this.log.info('taking-back', `generation ${gen.id} starts from ${(exec ?? current).script} (${what})`);
      const fail = (why: string): void => {
        if (this.state !== 'starting') return;
        gen.abort();
        if (!last) {
          this.log.warn('take-back-retry', `generation ${gen.id} could not start: ${why}; trying the current release`);
          attempt(undefined, 'the current release', true);
        } else this.takeBackFailed(`generation ${gen.id} could not start: ${why}`);
      };
      gen.on('failed', fail);
      gen.on('ready', () => {
        gen.removeListener('failed', fail);
        if (this.state === 'starting') void this.becomeServing(gen, true);
      });
      gen.start();
    };
    if (pinned === undefined) attempt(undefined, `the files of generation ${old?.id} are gone: the current release`, true);
    else attempt(pinned, `the release generation ${old?.id} ran`, !differs);
  }

  /** No take-back any more: the duplicates go (they would queue connections nobody accepts). */
  private letSuccessorGo(): void {
    this.kept?.close();
    this.kept = undefined;
    this.successor = undefined;
  }

  private takeBackFailed(reason: string): void {
    this.state = 'handed-over';
    this.exitCode = 1;
    for (const l of this.sockets) l.stopAccepting();
    this.log.error('take-back-failed', `taking service back failed, nothing serves new connections: ${reason}`);
    this.emit('take-back-failed', { reason });
    this.connections.flush(); // to a draining worker, while one is left
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
    let env: EnvOverlay;
    try {
      env = this.envFile.forGeneration();
    } catch (err) {
      const reason = (err as Error).message;
      this.log.error('reload-failed', `reload failed, generation ${this.serving?.id} keeps serving: ${reason}`);
      this.emit('reload-failed', { generation: this.nextGeneration, reason });
      return Promise.resolve({ ok: false, generation: this.nextGeneration, reason });
    }
    const gen = this.newGeneration(undefined, env);
    this.reloading = gen;
    this.log.info('reload-started', `reload started: generation ${gen.id}`);
    this.notifier.reloading(`reloading: generation ${gen.id} starting`);
    this.emit('reload-started', { generation: gen.id });
    return new Promise((resolve) => {
      const fail = (reason: string): void => {
        if (this.reloading !== gen) return;
        this.reloading = undefined;
        gen.abort();
        this.connections.flush();
        this.log.error('reload-failed', `reload to generation ${gen.id} failed, generation ${this.serving?.id} keeps serving: ${reason}`);
        this.emit('reload-failed', { generation: gen.id, reason });
        this.notifier.ready(process.pid, `reload failed; generation ${this.generation} serving`);
        resolve({ ok: false, generation: gen.id, reason });
      };
      gen.on('failed', fail);
      gen.on('ready', () => {
        if (this.reloading !== gen) return;
        const old = this.serving;
        // New connections go to the new generation; the old one stays, untouched, until the
        // new one has served `probation` ms without losing a worker.
        gen.markServing();
        gen.probationUntil = Date.now() + this.opts.probation;
        this.serving = gen;
        gen.acceptOn(this.shared());
        old?.stopAccepting();
        this.connections.flush();
        const revert = (reason: string): void => {
          if (this.reloading !== gen) return;
          clearTimeout(settle);
          if (old && old.state === 'serving') {
            this.serving = old;
            old.acceptOn(this.shared());
          }
          fail(reason);
        };
        gen.removeListener('failed', fail);
        gen.on('failed', revert);
        const settle = setTimeout(() => {
          if (this.reloading !== gen) return;
          this.reloading = undefined;
          gen.removeListener('failed', revert);
          gen.probationUntil = 0;
          this.servingEnv = env;
          this.log.generation = gen.id;
          setTitle('master', gen.id, 'serving');
          this.log.info('reload-succeeded', `generation ${gen.id} serves${old ? `; generation ${old.id} drains` : ''}`);
          this.emit('reload-succeeded', { generation: gen.id });
          this.notifier.ready(process.pid, `generation ${gen.id} serving`);
          this.reportState();
          if (old) this.drainGeneration(old, 'reloaded');
          resolve({ ok: true, generation: gen.id });
        }, this.opts.probation);
      });
      gen.start();
    });
  }

  /** SIGTERM / SIGINT / SIGQUIT: stop accepting, drain everything, exit 0. */
  stop(reason = 'stop requested'): void {
    // Only a second *signal* stops at once: a stop asked for otherwise (the control
    // socket, the supervisor after Ctrl-C, which also reached us as SIGINT) is not one.
    const bySignal = reason === 'SIGTERM' || reason === 'SIGINT' || reason === 'SIGQUIT';
    if (bySignal) this.signalCount++;
    // a master asked to stop does not take service back
    this.successor?.release();
    this.letSuccessorGo();
    this.parent.send({ type: 'stopping' });
    if (this.state === 'stopping' || this.state === 'handed-over') {
      if (!bySignal || this.signalCount < 2) {
        this.log.info('stopping', `${reason}: already ${this.state === 'stopping' ? 'stopping' : 'draining (handed over)'}`);
        return;
      }
      if (reason === 'SIGQUIT') return;
      this.log.warn('forced-stop', `${reason} again: stopping now`);
      for (const g of this.generations.values()) g.abort();
      process.exit(1);
    }
    const wasServing = this.state === 'serving';
    this.state = 'stopping';
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
    if (this.state === 'stopping' || this.state === 'handed-over') return Promise.resolve(this.refuse('scale', `this master is ${this.state}`));
    if (!Number.isInteger(n) || n < 1) return Promise.resolve(this.refuse('scale', `${n} workers: at least 1 worker is needed`));
    if (n > 1024) return Promise.resolve(this.refuse('scale', `${n} workers: at most 1024`));
    this.workers = n;
    this.scaled = true;
    this.log.info('scaled', `workers per generation: ${n}`);
    this.emit('scaled', { workers: n });
    this.reportState();
    this.serving?.scale(n);
    this.reloading?.scale(n);
    return Promise.resolve({ ok: true, generation: this.generation });
  }

  get readyTimeout(): number {
    return this.opts.readyTimeout;
  }

  /** What `baton status` shows. */
  status(): Record<string, unknown> {
    const now = Date.now();
    return {
      master: {
        pid: process.pid,
        generation: this.generation,
        state: this.state,
        startedAt: new Date(this.startedAt).toISOString(),
        uptime: now - this.startedAt,
        workers: this.workers,
        rss: process.memoryUsage.rss(),
      },
      listeners: this.sockets.map((l) => ({ name: l.name, address: l.address() })),
      upgrade: this.upgrading ? { pid: this.upgrading.pid ?? null } : null,
      generations: [...this.generations.values()].map((g) => ({
        id: g.id,
        state: g.state,
        startedAt: new Date(g.startedAt).toISOString(),
        restarts: g.restarts,
        workers: [...g.slots.values()].map((w) => ({
          pid: w.pid,
          state: w.leaving && w.state !== 'draining' ? 'replacing' : w.state,
          /** Accepts on the sockets itself now (not paused by the fairness control). */
          accepting: w.accepting && !w.paused,
          connections: w.connections,
          requests: w.requests,
          rss: w.rss,
          uptime: now - w.startedAt,
        })),
      })),
    };
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
