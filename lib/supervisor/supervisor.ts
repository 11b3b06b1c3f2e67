// `baton run app.js`: a thin, long-lived supervisor with a stable PID, for where the process
// that started the server must stay (a container's PID 1, a systemd unit, a shell job and its
// Ctrl-C): every master is its child. It holds the sockets the first master sends it, spawns every
// next master with them (an upgrade of the serving one, or a restart when none serves), and
// restarts a master that dies after the crash back-off. What each signal does and how it logs:
// docs/signals.md ("The supervisor"), docs/operations.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { Logger } from '../log/log';
import { sendIfConnected } from '../channel';
import { isBaton, type FromMaster, type ToMaster } from '../messages';
import { Backoff } from '../pool/backoff';
import { STOP_SIGNALS, StopSignals, type StopSignal } from '../os/signals';
import { forwardUpgrade, readVerdict } from './bridge';
import type { Verdict } from '../observe/canary';
import { relaunch, type StartContext } from '../os/relaunch';
import { UpgradeAttempt, type HandoffSocket } from '../upgrade/attempt';
import { killTree } from '../os/proctree';
import { SUPERVISOR_ENV } from './supervised';
import { Notifier } from '../os/notify';
import { DEFAULTS } from '../config/options';
import { setTitle } from '../os/title';
import { SUPERVISOR } from './states';
import { StateTable } from '../upgrade/state-table';

export interface SupervisorOptions {
  /** ms the first master may take to call listen() (default: listen()'s readyTimeout default). */
  readyTimeout?: number;
}

export class Supervisor {
  private readonly log = new Logger('supervisor', 0, (process.env.BATON_LOG_LEVEL as 'warn') || 'warn', (process.env.BATON_LOG_FORMAT as 'text') || 'text');
  /** The listening sockets, as the first master sent them: handed to each next master. */
  private held: HandoffSocket[] = [];
  private readonly notifier = new Notifier(this.log);
  /** Where it stands: one table (lib/supervisor/states.ts). */
  private readonly states = new StateTable(SUPERVISOR, 'starting', 'supervisor state');
  /** The master that serves, or the first one until it does (undefined while a dead one is being replaced). */
  private serving: ChildProcess | undefined;
  private masters = new Set<ChildProcess>();
  /** The latest upgrade or restart: in progress until its phase says otherwise (lib/upgrade/phases.ts). */
  private attempt: UpgradeAttempt | undefined;
  private readonly signals = new StopSignals();
  /** Masters that die are restarted with the crash back-off of lib/pool/backoff.ts. */
  private readonly backoff = new Backoff();
  /** The restart waiting out its back-off (at most one). */
  private restartTimer: NodeJS.Timeout | undefined;
  private info = { pidFile: undefined as string | undefined, readyTimeout: DEFAULTS.readyTimeout, nextGeneration: 2, workers: undefined as number | undefined, scaled: false, probation: 0, drainTimeout: DEFAULTS.drainTimeout };
  /** The upgrade's canary waits for the old master's verdict on the new master's tally (lib/supervisor/bridge.ts). */
  private verdict: { pid: number; resolve: (v: Verdict | undefined) => void; reject: (err: Error) => void } | undefined;
  private exitCode = 0;

  constructor(private start: StartContext, private options: SupervisorOptions = {}) {}

  run(): void {
    setTitle('supervisor', 0, 'running');
    process.on('SIGUSR2', () => this.upgrade('SIGUSR2'));
    for (const sig of ['SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1'] as const) {
      process.on(sig, () => {
        if (this.serving?.pid) process.kill(this.serving.pid, sig);
      });
    }
    for (const sig of STOP_SIGNALS) process.on(sig, () => this.stop(sig));
    this.spawnFirst();
  }

  private spawnFirst(): void {
    const r = relaunch(this.start);
    const child = spawn(r.command, [...r.execArgv, r.script, ...r.args], {
      argv0: r.argv0,
      cwd: r.cwd,
      env: { ...process.env, [SUPERVISOR_ENV]: '1', PWD: r.cwd },
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    this.adopt(child);
    this.serving = child;
    this.log.info('master-started', `started master ${child.pid}`);
    const readyTimeout = this.options.readyTimeout ?? DEFAULTS.readyTimeout;
    const timer = setTimeout(() => {
      if (!this.states.is('starting') || !this.masters.has(child)) return;
      this.log.error('no-listen', `${this.start.typedScript} (master ${child.pid}) did not call baton's listen() within ${readyTimeout} ms: is it the file that calls require('baton').listen(...)? Stopping it; give it longer with baton run --ready-timeout MS`);
      this.states.to('stopping');
      this.exitCode = 1;
      if (child.pid) killTree(child.pid);
    }, readyTimeout);
    timer.unref();
  }

  /** Follows a master for its whole life. */
  private adopt(child: ChildProcess): void {
    this.masters.add(child);
    child.on('message', (m: unknown, handle: unknown) => this.onMessage(child, m, handle));
    child.on('error', () => undefined);
    // 'close', not 'exit': it comes once the channel was read to the end, so what a master
    // said just before it died (its sockets, that it serves) is known when its death is handled.
    child.on('close', (code, signal) => {
      this.masters.delete(child);
      if (this.states.is('stopping')) {
        if (this.masters.size === 0) this.exit(this.exitCode);
        return;
      }
      if (child !== this.serving) return;
      this.serving = undefined;
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (this.states.is('starting', 'listening')) {
        const where = this.states.is('listening') ? 'before it served' : `before it called baton's listen() (is ${this.start.typedScript} the file that calls require('baton').listen(...)?)`;
        this.log.error('start-failed', `the first master ${how} ${where}; giving up`);
        this.exit(typeof code === 'number' && code !== 0 ? code : 1);
        return;
      }
      if (code === 0 && signal === null) {
        // a master stopped on its own request (baton stop): the service is over
        this.log.info('master-stopped', `master ${child.pid} stopped; exiting`);
        this.states.to('stopping');
        if (this.masters.size === 0) this.exit(0);
        return;
      }
      if (this.states.is('serving')) this.states.to('restarting');
      const upgrade = this.attempt?.finished === false ? this.attempt : undefined;
      if (upgrade !== undefined) {
        // No restart beside it: the upgrade's new master serves if it starts; if it fails,
        // its 'failed' restarts (no master serves, the state says: restarting).
        this.log.error('master-died', `serving master ${child.pid} ${how} during the upgrade to new master ${upgrade.pid}: it serves if it starts, else a new master starts on the held sockets`);
        this.verdict?.reject(new Error(oldGone(child)));
        this.verdict = undefined;
        return;
      }
      this.log.error('master-died', `serving master ${child.pid} ${how}; starting a new one on the held sockets`);
      this.respawn();
    });
  }

  private onMessage(child: ChildProcess, m: unknown, handle: unknown): void {
    if (!isBaton(m)) return;
    const message = m as FromMaster;
    // 'hello' comes from listen(); a master of an older baton says nothing before it serves
    if (child === this.serving && this.states.is('starting')) this.states.to('listening');
    switch (message.type) {
      case 'hold':
        if (handle && typeof handle === 'object' && !this.held.some((h) => h.spec.name === message.spec.name)) {
          const h = handle as object;
          this.held.push({ spec: message.spec, external: message.external, handoffFd: () => h });
          this.log.debug('holding', `holding listener ${message.spec.name}`);
        }
        return;
      case 'state': {
        if (child !== this.serving) return;
        if (message.serving !== false && this.states.is('starting', 'listening', 'restarting')) {
          if (!this.states.is('restarting')) this.notifier.ready(process.pid, `master ${child.pid} serving`);
          this.states.to('serving');
        }
        const { pidFile, readyTimeout, nextGeneration, workers, scaled, probation = 0, drainTimeout = DEFAULTS.drainTimeout } = message;
        this.info = { pidFile, readyTimeout, nextGeneration, workers, scaled, probation, drainTimeout };
        return;
      }
      case 'upgrade-verdict':
        if (this.verdict?.pid !== message.pid) return;
        this.verdict.resolve(readVerdict(message));
        this.verdict = undefined;
        return;
      case 'upgrade-request':
        this.upgrade(`requested by master ${child.pid}`);
        return;
    }
  }

  private tell(child: ChildProcess | undefined, m: ToMaster): void {
    sendIfConnected(child, m); // gone: its 'close' follows
  }

  /**
   * Spawns the next master on the held sockets: an upgrade, whose old master hands over once the
   * new one serves, or, when no master serves (a SIGUSR2 during the crash back-off ends it early),
   * a restart.
   */
  private upgrade(why: string): void {
    if (this.states.is('stopping')) return;
    const old = this.serving;
    const refuse = (reason: string, logged = reason): void => {
      this.log.warn('upgrade-refused', `upgrade refused (${why}): ${logged}`);
      this.tell(old, { type: 'upgrade-refused', reason });
    };
    if (this.attempt?.finished === false) return refuse(`an upgrade is in progress (new master ${this.attempt.pid})`);
    if (this.held.length === 0 && !old) {
      // a master that died before its sockets reached this supervisor: start one that binds them
      this.log.warn('master-restarted', 'the supervisor holds no sockets: the new master binds them itself');
      this.spawnFirst();
      return;
    }
    if (this.held.length === 0) return refuse('the supervisor holds no sockets yet', 'the master has not handed its sockets to the supervisor yet');
    const what = old ? 'upgrade' : 'restart';
    const attempt = new UpgradeAttempt({
      relaunch: relaunch(this.start),
      listeners: this.held,
      generation: this.info.nextGeneration,
      workers: this.info.scaled ? this.info.workers : undefined,
      readyTimeout: this.info.readyTimeout,
      // a master that replaces a dead one has nobody to roll back to
      probation: old ? this.info.probation : 0,
      pidFile: this.info.pidFile,
      oldPid: old?.pid,
      env: { [SUPERVISOR_ENV]: '1' },
      log: this.log,
      // the old master judges (it counts its own generation); its verdict comes back here
      // (a master that died meanwhile never answers: the verdict is refused at once, saying so)
      judge: old ? {
        begin: () => undefined,
        verdict: () => this.masters.has(old)
          ? new Promise((resolve, reject) => (this.verdict = { pid: attempt.pid as number, resolve, reject }))
          : Promise.reject(new Error(oldGone(old))),
      } : undefined,
      drainTimeout: this.info.drainTimeout,
    });
    this.attempt = attempt;
    attempt.on('started', (pid) => {
      if (old) {
        this.notifier.reloading(`upgrading: new master ${pid} starting`);
        this.log.info('upgrade-started', `upgrade (${why}): new master ${pid}`);
      } else {
        this.notifier.send([`STATUS=restarting: new master ${pid} starting`]);
        this.log.info('restart-started', `restarting (${why}): new master ${pid}`);
      }
      if (attempt.child) this.adopt(attempt.child);
    });
    // the master being replaced follows the attempt through the bridge
    forwardUpgrade(attempt, (m) => this.tell(old, m));
    attempt.on('failed', (reason) => {
      // No master serves (the one being upgraded died meanwhile, or a restart failed): start one
      // on the held sockets, after the crash back-off. READY=1 ends systemd's RELOADING=1; the
      // status says that nothing serves until the restart does.
      if (this.states.is('restarting')) {
        const ms = this.respawn();
        const again = old ? 'no master serves (the old one died): restarting' : 'trying again';
        this.log.error(`${what}-failed`, `${what} failed: ${reason}; ${again} in ${ms} ms on the held sockets`);
        this.notifier.ready(process.pid, `${what} failed; no master serves: restarting in ${ms} ms`);
        return;
      }
      this.log.error(`${what}-failed`, `${what} failed: ${reason}`);
      // the old master serves on (it accepts again), unless the supervisor stops
      if (!this.states.is('stopping')) this.notifier.ready(process.pid, `${what} failed`);
    });
    attempt.on('serving', (pid) => {
      this.serving = attempt.child;
      if (this.states.is('restarting')) this.states.to('serving');
      this.backoff.reset();
      if (old) this.log.info('upgrade-succeeded', `master ${pid} serves`);
      else this.log.info('restarted', `master ${pid} serves (restarted: ${why})`);
      this.notifier.ready(process.pid, `master ${pid} serving`);
    });
    attempt.start();
  }

  /** No master serves: a new one on the held sockets after the crash back-off (returned, ms). */
  private respawn(): number {
    const ms = this.backoff.next();
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      // a master serves again (an upgrade started meanwhile took over), or the supervisor stops;
      // an upgrade still in progress restarts if it fails ('failed')
      if (!this.states.is('restarting') || this.attempt?.finished === false) return;
      this.upgrade('the serving master died');
    }, ms);
    return ms;
  }

  private stop(sig: StopSignal): void {
    if (this.signals.note(sig) === 'force' && this.states.is('stopping')) {
      this.log.warn('forced-stop', `${sig} again: killing every master now`);
      for (const m of this.masters) if (m.pid) killTree(m.pid);
      this.exit(1);
      return;
    }
    if (!this.states.is('stopping')) this.states.to('stopping');
    this.notifier.stopping();
    this.log.info('stopping', `${sig}: stopping every master gracefully`);
    this.attempt?.fail(`stopped by ${sig}`);
    // A message, not a signal: after Ctrl-C the masters got SIGINT from the terminal
    // already, and a second signal would mean "stop at once" to them.
    for (const m of this.masters) {
      if (m.connected) this.tell(m, { type: 'stop' });
      else if (m.pid) {
        try {
          process.kill(m.pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    }
    if (this.masters.size === 0) this.exit(0);
  }

  private exit(code: number): void {
    void this.notifier.flush().then(() => process.exit(code));
  }
}

/** Why the canary of an upgrade whose old master died has no verdict (that master judged it). */
function oldGone(old: ChildProcess): string {
  return `the old master ${old.pid} died: nothing to compare the new one with`;
}
