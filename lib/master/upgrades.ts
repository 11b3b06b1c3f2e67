// The old master's side of its upgrades, as one piece the coordinator (lib/master/master.ts)
// drives: it starts an upgrade (lib/upgrade/attempt.ts; under `baton run` it asks the
// supervisor, lib/supervisor/supervised.ts), follows it, and once the new master serves,
// follows that one while this master drains: the sockets kept to take service back
// (KeptSockets, lib/sockets/ledger.ts) and the take-back itself (lib/upgrade/take-back.ts) if it dies.
// A piece, as docs/architecture.md says: it reads the master's view and reports (UpgradesEvents, Outcome).
import { EventEmitter } from 'node:events';
import type { Generation } from '../pool/generation';
import type { ResolvedOptions } from '../config/options';
import { UpgradeAttempt, type Upgrade } from '../upgrade/attempt';
import type { RemoteUpgrade } from '../supervisor/supervised';
import { upgradeJudge } from '../upgrade/canary';
import type { Judge } from '../observe/canary';
import { verdictMessage } from '../supervisor/bridge';
import { emptyTally } from '../observe/metrics';
import { TakeBack } from '../upgrade/take-back';
import { relaunch, type WorkerExec } from '../os/relaunch';
import { KeptSockets } from '../sockets/ledger';
import { setTitle } from '../os/title';
import type { MasterContext, MasterView } from './context';
import type { MasterEvents } from './events';
import type { Outcome } from '../control/commands';

export interface UpgradesEvents {
  'upgrade-started': MasterEvents['upgrade-started'];
  'upgrade-worker-ready': MasterEvents['upgrade-worker-ready'];
  /** This master takes every new connection again. */
  'upgrade-failed': MasterEvents['upgrade-failed'];
  /** The new master is on probation: it alone is to take new connections, and half this master's keep-alive ones move to it. */
  probation: [];
  /** The new master serves: stop accepting, drain, exit; `dropped`: the listeners its release does not have, closed. */
  'handed-over': [pid: number, dropped: string[]];
  /** The new master died while this one drained: starting again. */
  'taking-back': MasterEvents['taking-back'];
  /** Serve with this generation. */
  'taken-back': [gen: Generation];
  /** Nothing serves: drain what is left, exit 1. */
  'take-back-failed': MasterEvents['take-back-failed'];
}

const PID1 = 'this master is PID 1: its exit would end the container with the new master in it. Run it with `baton run` (a supervisor that stays), or under an init (docker run --init)';

export class Upgrades extends EventEmitter<UpgradesEvents> {
  /**
   * The latest upgrade, local or run by the supervisor: in progress, or (nginx mode) the new
   * master this one follows while it drains, until it moves on or is lost (its phase says which:
   * lib/upgrade/phases.ts).
   */
  private attempt: Upgrade | undefined;
  /** While the new master is followed (nginx mode): the sockets kept to take service back. */
  private kept: KeptSockets | undefined;

  /** @param newGeneration creates (not starts) a generation of this master running `exec` (undefined: the current release) */
  constructor(private readonly c: MasterContext, private readonly opts: ResolvedOptions, private readonly m: MasterView, private readonly newGeneration: (exec: WorkerExec | undefined) => Generation) {
    super();
  }

  /** The upgrade in progress (`pid`: its new master, once spawned). */
  get busy(): { pid: number | undefined } | undefined {
    const a = this.attempt;
    return a !== undefined && !a.finished ? { pid: a.pid } : undefined;
  }

  /** SIGUSR2: replaces this master with a new one started from the current files. */
  start(): Promise<Outcome> {
    const { c } = this;
    if (!c.link && process.pid === 1) {
      c.log.warn('upgrade-refused', `upgrade refused: ${PID1}`);
      return Promise.resolve({ ok: false, reason: PID1 });
    }
    const attempt = c.link?.request() ?? this.localAttempt();
    const outcome = this.follow(attempt);
    attempt.start();
    return outcome;
  }

  /** An upgrade run by this master (not under `baton run`). */
  private localAttempt(): UpgradeAttempt {
    const { c, opts: o } = this;
    const attempt = new UpgradeAttempt({
      judge: this.judge(), drainTimeout: o.drainTimeout,
      relaunch: relaunch(c.start), listeners: this.m.sockets(), generation: this.m.nextGeneration(), workers: this.m.workersForNext(),
      readyTimeout: o.readyTimeout, probation: o.probation, pidFile: o.pidFile, oldPid: process.pid, env: c.envFile.forNextMaster(), log: c.log, endpoints: c.observation.handoff(),
    });
    attempt.once('started', () => attempt.child && c.observation.followSuccessor(attempt.child));
    return attempt;
  }

  /** An upgrade the supervisor started on its own (SIGUSR2 sent to it): followed if this master serves and runs none. */
  adopt(u: RemoteUpgrade): void {
    if (this.m.state() === 'serving' && this.busy === undefined) void this.follow(u);
  }

  /** The canary: the new master's first generation against the one serving here, over the probation. */
  private judge(): Judge {
    const serving = this.m.serving()?.id;
    return upgradeJudge(() => (serving === undefined ? emptyTally() : this.c.observation.observer.metrics.tally(serving)), this.opts.canary);
  }

  /** Follows an upgrade (run here, or by the supervisor). */
  private follow(attempt: Upgrade): Promise<Outcome> {
    const { log, surface: { notifier } } = this.c;
    this.attempt = attempt;
    if (!(attempt instanceof UpgradeAttempt)) {
      // under `baton run` this master judges, and the supervisor's attempt acts on the verdict
      const judge = this.judge();
      attempt.on('probation', () => judge.begin());
      attempt.on('tally', (pid, tally) => {
        void Promise.resolve(judge.verdict(tally)).then((v) => {
          log.info('canary', v ? `new master ${pid}: ${v.result}: ${v.reason}` : `new master ${pid} sent a malformed tally: judged on crashes alone`, { newPid: pid });
          this.c.link?.send(verdictMessage(pid, v));
        });
      });
    }
    return new Promise((resolve) => {
      attempt.on('started', (pid) => {
        notifier.reloading(`upgrading: new master ${pid} starting`);
        log.info('upgrade-started', `upgrade started: new master ${pid}`, { newPid: pid });
        this.emit('upgrade-started', { pid });
      });
      attempt.on('worker-ready', (pid, ready, total) => this.emit('upgrade-worker-ready', { pid, ready, total }));
      // the history's `to` side: what the new master runs
      attempt.on('side', (_pid, side) => this.c.observation.observer.upgradeTo(side));
      attempt.on('probation', () => this.emit('probation'));
      attempt.on('failed', (reason) => {
        log.error('upgrade-failed', `upgrade failed, this master keeps serving: ${reason}`);
        // the new master took the control socket's path over once it served (the pid file is restored already)
        if (this.m.state() === 'serving') void this.c.surface.reclaimControl();
        this.emit('upgrade-failed', { reason });
        notifier.ready(process.pid, `upgrade failed; generation ${this.m.generation()} serving`);
        resolve({ ok: false, reason });
      });
      attempt.on('serving', (pid, dropped) => {
        this.c.observation.handedOver(); // the latest totals, before the release
        if (attempt instanceof UpgradeAttempt) this.watch(pid, attempt);
        this.emit('handed-over', pid, dropped);
        resolve({ ok: true, pid });
      });
    });
  }

  /** The new master serves; while this one drains it may die, and this one takes service back. */
  private watch(pid: number, attempt: UpgradeAttempt): void {
    // Before the servers close their fds: the sockets to take service back with (an attempt of
    // this master's own: under `baton run` the supervisor holds them and restarts a dead master).
    const kept = new KeptSockets(this.m.sockets());
    this.kept = kept;
    if (kept.failed !== undefined) this.c.log.warn('keep-failed', `${kept.failed}: if the new master dies while this one drains, this one cannot take service back`);
    attempt.on('lost', (reason) => this.takeBack(pid, reason));
    attempt.on('moved-on', (what) => {
      // the kept sockets would keep queueing connections nobody accepts
      this.c.log.debug('successor-moved-on', `new master ${pid} ${what === 'stopping' ? 'stops' : 'handed over in turn'}: the kept sockets are closed`, { newPid: pid });
      this.letGo();
    });
  }

  /** The new master died after it took over, while this master still drains. */
  private takeBack(pid: number, reason: string): void {
    const { c } = this;
    const kept = this.kept;
    this.kept = undefined;
    const state = this.m.state();
    if (state !== 'handed-over' || kept === undefined) {
      c.log.warn('successor-lost', `${reason}; this master is ${state} and does not take service back`, { newPid: pid });
      kept?.close();
      return;
    }
    c.log.error('taking-back', `${reason}; this master takes service back on the sockets it kept`, { newPid: pid });
    this.emit('taking-back', { pid, reason });
    setTitle('master', this.m.generation(), 'taking back');
    // until it serves again, or stops, or gives up (the master's state says which)
    const t = new TakeBack({ start: c.start, old: this.m.serving(), log: c.log, newGeneration: this.newGeneration, wanted: () => this.m.state() === 'starting' });
    t.on('ready', (gen) => this.emit('taken-back', gen));
    t.on('failed', (why) => {
      c.log.error('take-back-failed', `taking service back failed, nothing serves new connections: ${why}`);
      this.emit('take-back-failed', { reason: why });
    });
    void t.run(kept.takeBack()); // the kept sockets accept again (the ledger's own doing), then a generation starts
  }

  /** No take-back any more: the kept sockets go (they would queue connections nobody accepts). */
  letGo(): void {
    this.kept?.close();
    this.kept = undefined;
  }

  /** This master stops: it follows no new master any more, and takes nothing back. */
  release(): void {
    if (this.attempt instanceof UpgradeAttempt) this.attempt.release();
    this.letGo();
  }

  /** Gives up the upgrade in progress (this master stops). */
  fail(reason: string): void {
    this.attempt?.fail(reason);
  }
}
