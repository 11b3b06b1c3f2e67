// The master role: a coordinator. It owns the listening sockets and its generations, and
// moves through the states of lib/master/states.ts as the pieces it drives report back:
//
//   SIGUSR2          upgrade: a replacement master (lib/upgrade/attempt.ts; under `baton run`
//                    the supervisor runs it, lib/supervisor/)
//   SIGHUP           reload: a new generation in this master (lib/pool/reload.ts)
//   SIGTERM/INT/QUIT graceful stop; a second SIGTERM/SIGINT stops at once
//
// Each piece reports outcomes as events or return values; only this file changes the state.
import type { Generation } from '../pool/generation';
import { ReloadAttempt } from '../pool/reload';
import type { EnvOverlay } from '../config/envfile';
import { UpgradeAttempt } from '../upgrade/attempt';
import { TakeBack } from '../upgrade/take-back';
import { relaunch } from '../upgrade/relaunch';
import { KeptSockets } from '../sockets/keep';
import { openListeners, sharedSockets } from '../sockets/open';
import { setTitle } from '../os/title';
import { takeOverUncaught } from '../os/fatal';
import { isStopSignal } from '../os/signals';
import type { RemoteUpgrade } from '../supervisor/supervised';
import { installSignals } from './signals';
import type { Outcome } from './states';
import { MasterCore } from './core';

export type { MasterEvents } from './events';
export type { MasterState, Outcome } from './states';

export class Master extends MasterCore {
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

  protected startFirstGeneration(): void {
    const gen = this.newGeneration();
    gen.on('failed', (reason) => this.fatal(`generation ${gen.id} failed to start: ${reason}`));
    gen.on('ready', () => {
      if (!this.handoff || !this.parent.askToGo()) void this.becomeServing(gen);
    });
    gen.start();
  }

  /** The new master's side of an upgrade: the old master says go, or goes away. */
  protected followParent(): void {
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
  protected followUpgrade(attempt: UpgradeAttempt | RemoteUpgrade, resolve: (o: Outcome) => void): void {
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
  protected closeDropped(names: string[]): void {
    for (const l of this.sockets) {
      if (!names.includes(l.name)) continue;
      l.removePath();
      this.log.info('listener-closed', `${l.address()} (listener "${l.name}") is not in the new release: closed`, { listener: l.name });
    }
  }

  protected handOver(pid: number, attempt: UpgradeAttempt | undefined): void {
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
  protected takeBack(pid: number, reason: string): void {
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
}
