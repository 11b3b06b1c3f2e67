// The old master's side of an upgrade (SIGUSR2); the new master's is lib/upgrade/predecessor.ts.
// The messages both exchange, the failure, the probation with its canary and the roll-back are
// drawn in docs/architecture.md ("Upgrade (SIGUSR2): a new master"); where one stands is the table
// of lib/upgrade/phases.ts, which this attempt alone moves.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import type { Stream } from 'node:stream';
import { EventEmitter } from 'node:events';
import { earlyReporter, type EarlyReporter } from './early';
import { FIRST_FD, HANDOFF_ENV, type Handoff } from './handoff';
import { sendIfConnected } from '../channel';
import { isBaton, type FromSuccessor, type ToSuccessor } from '../messages';
import { oldbinPath, removePidFileIf, writePidFile } from '../os/pidfile';
import { killTree } from '../os/proctree';
import { Trial } from '../pool/trial';
import type { Logger } from '../log/log';
import type { ListenerSpec } from '../config/types';
import type { Relaunch } from '../os/relaunch';
import type { Judge } from '../observe/canary';
import { HandOver, type HandOverPhase } from './phases';

/** What the attempt reports: the master follows it (lib/master/upgrades.ts), `baton run` forwards it (lib/supervisor/bridge.ts). */
export interface UpgradeEvents {
  started: [pid: number];
  'worker-ready': [pid: number, ready: number, total: number];
  /** What the new master runs (release, Node, generation: a HistorySide as it sent it), once it serves. */
  side: [pid: number, side: unknown];
  /** The new master serves beside this one, on probation: this one sheds part of its keep-alive connections to it. */
  probation: [pid: number];
  /** The new master serves: the old one must stop accepting and drain. `dropped`: the listeners it did not adopt. */
  serving: [pid: number, dropped: string[]];
  failed: [reason: string];
  /** The new master's tally at the end of probation (a TallyData), before it is judged: `baton run` forwards it to the old master. */
  tally: [pid: number, tally: unknown];
  /** After 'serving': the new master died while it was the one serving. */
  lost: [reason: string];
  /** After 'serving': the new master handed over in turn, or stops; nothing to watch any more. */
  'moved-on': [what: 'handed-over' | 'stopping'];
}

/** A listening socket to hand to the new master: a Listener, or a handle a supervisor holds. */
export interface HandoffSocket {
  spec: ListenerSpec;
  external?: boolean;
  /** An fd number or a handle object, as spawn() takes them in stdio. */
  handoffFd(): number | object;
}

export interface UpgradeOptions {
  relaunch: Relaunch;
  listeners: HandoffSocket[];
  generation: number;
  workers: number | undefined;
  readyTimeout: number;
  /** ms the new master serves beside the old one before the old one hands over. */
  probation?: number;
  pidFile: string | undefined;
  /**
   * The master being replaced: this process, or a supervisor's child (a supervisor runs the attempt
   * and follows the new master itself); undefined when there is none: a restart.
   */
  oldPid: number | undefined;
  /** Environment of the new master over this process's (undefined removes a variable). */
  env?: Record<string, string | undefined>;
  log: Logger;
  /** The `metrics` / `health` listening sockets to pass on after the listeners (lib/observe/endpoints.ts). */
  endpoints?: Array<{ key: string; fd: number }>;
  /** The canary, judged at the end of probation (under `baton run`, the supervisor's asks the old master). */
  judge?: Judge;
  /** The new master's drainTimeout: a rolled-back one is killed if still there ROLLBACK_GRACE ms later. */
  drainTimeout: number;
  /** Unit specs give fakes: how the new master is spawned, and its tree killed. */
  spawn?: typeof spawnChild;
  killTree?: typeof killTree;
}

/** How long past drainTimeout a rolled-back new master may take to exit before it is killed. */
export const ROLLBACK_GRACE = 5_000;

/** An upgrade as its old master follows it: run here (UpgradeAttempt) or by the supervisor (RemoteUpgrade, lib/supervisor/supervised.ts). */
export abstract class Upgrade extends EventEmitter<UpgradeEvents> {
  /** Where it stands: one table (lib/upgrade/phases.ts), moved by UpgradeAttempt, followed by RemoteUpgrade. */
  protected readonly handOver = new HandOver();

  abstract get pid(): number | undefined;

  get phase(): HandOverPhase {
    return this.handOver.state;
  }

  /** The new master serves (or followed by nobody any more), or the upgrade failed. */
  get finished(): boolean {
    return !this.handOver.inProgress;
  }

  abstract start(): void;
  abstract fail(reason: string): void;
}

export class UpgradeAttempt extends Upgrade {
  child: ChildProcess | undefined;
  private forked = new Set<number>();
  private errors: string[] = [];
  /** Whether the new master ever said anything (it does from listen() on). */
  private heard = false;
  private timer: NodeJS.Timeout | undefined;
  private early: EarlyReporter | undefined;
  /** From 'serving' on: probation (the new master exiting fails the upgrade), then the canary. */
  private trial: Trial | undefined;

  constructor(private o: UpgradeOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const { relaunch, listeners, generation } = this.o;
    const argv = [...relaunch.execArgv, relaunch.script, ...relaunch.args];
    const handoff: Handoff = {
      v: 1,
      parent: process.pid,
      generation,
      listeners: listeners.map((l, i) => ({ spec: l.spec, fd: FIRST_FD + i, ...(l.external ? { external: true } : {}) })),
      workers: this.o.workers,
      endpoints: (this.o.endpoints ?? []).map((e, i) => ({ key: e.key, fd: FIRST_FD + listeners.length + i })),
    };
    const fds = [...listeners.map((l) => l.handoffFd()), ...(this.o.endpoints ?? []).map((e) => e.fd)];
    const base = { ...process.env, ...this.o.env };
    this.early = earlyReporter({ role: 'master', generation, format: this.o.log.format }, base);
    const env = { ...base, ...this.early?.env, [HANDOFF_ENV]: JSON.stringify(handoff), PWD: relaunch.cwd };
    let child: ChildProcess;
    try {
      child = (this.o.spawn ?? spawnChild)(relaunch.command, argv, {
        argv0: relaunch.argv0,
        cwd: relaunch.cwd,
        env,
        // a raw handle (held by a supervisor) is accepted by spawn like a stream's
        stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...(fds as Array<number | Stream>)],
      });
    } catch (err) {
      this.fail(`could not spawn ${relaunch.command}: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.handOver.to('starting');
    child.on('error', (err) => {
      // ENOENT / EACCES on spawn, or EPIPE on a dying channel
      if (!this.finished) this.errors.push(err.message);
      if (child.pid === undefined) this.fail(`could not start ${relaunch.command}: ${err.message}`);
    });
    child.on('message', (m: unknown) => this.onMessage(m));
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (this.handOver.is('serving')) {
        // A master that exits 0 on its own stopped or handed over (and said so, if it could).
        if (signal === null && code === 0) return this.handOver.to('released');
        this.handOver.to('lost');
        this.emit('lost', this.withErrors(`the new master ${child.pid} ${how} after it took over`));
        return;
      }
      this.fail(this.handOver.is('probation', 'judging')
        ? `the new master ${child.pid} ${how} during its probation (this master accepts again; it served its own connections all along)`
        : `the new master ${child.pid} ${how} before it was serving`);
    });
    this.timer = setTimeout(() => {
      const hint = this.heard ? '' : `: it said nothing, as a program that does not call baton's listen() (or is stuck before it) would`;
      this.fail(`the new master ${child.pid} was not serving within readyTimeout (${this.o.readyTimeout} ms)${hint}`);
    }, this.o.readyTimeout);
    if (child.pid !== undefined) {
      this.o.log.info(`${this.o.oldPid === undefined ? 'restart' : 'upgrade'}-spawned`, `spawned new master ${child.pid}: ${relaunch.command} ${argv.join(' ')} (cwd ${relaunch.cwd})`, { newPid: child.pid });
      this.emit('started', child.pid);
    }
  }

  private send(m: ToSuccessor): void {
    sendIfConnected(this.child, m); // gone: its exit follows
  }

  private onMessage(m: unknown): void {
    if (!isBaton(m)) return;
    this.heard = true;
    const message = m as FromSuccessor;
    if (this.handOver.is('serving')) {
      if (message.type === 'handed-over' || message.type === 'stopping') {
        this.release();
        this.emit('moved-on', message.type);
      } else if (message.type === 'error') this.errors.push(message.message);
      return;
    }
    if (this.finished) return;
    const pid = this.child?.pid as number;
    switch (message.type) {
      case 'forked':
        this.forked.add(message.pid);
        return;
      case 'error':
        this.errors.push(message.message);
        return;
      case 'tally':
        if (this.handOver.is('judging')) this.trial?.evidence(message.tally);
        return;
      case 'worker-ready':
        this.emit('worker-ready', message.pid, message.ready, message.total);
        return;
      case 'ready':
        if (!this.handOver.is('starting')) return;
        this.handOver.to('go');
        if (this.o.pidFile !== undefined && this.o.oldPid !== undefined) writePidFile(oldbinPath(this.o.pidFile), this.o.oldPid);
        this.send({ type: 'go' });
        return;
      case 'serving': {
        if (!this.handOver.is('go')) return;
        clearTimeout(this.timer);
        const dropped = Array.isArray(message.dropped) ? message.dropped.filter((n) => typeof n === 'string') : [];
        if (message.side !== undefined) this.emit('side', pid, message.side);
        const ms = this.o.probation ?? 0;
        if (ms <= 0) {
          this.settle(pid, dropped);
          return;
        }
        // The new master serves; a worker it loses now fails the upgrade (it exits).
        this.handOver.to('probation');
        this.o.log.info('upgrade-probation', `new master ${pid} serves beside this one for ${ms} ms (probation)`, { newPid: pid });
        this.trial = new Trial({
          what: 'upgrade', subject: `new master ${pid}`, fields: { newPid: pid }, ms, judge: this.o.judge, log: this.o.log,
          ask: () => {
            this.handOver.to('judging');
            this.send({ type: 'report' });
          },
          heard: (tally) => this.emit('tally', pid, tally),
          pass: () => this.settle(pid, dropped),
          rollBack: (reason) => this.rollBack(reason),
        });
        this.trial.begin();
        this.emit('probation', pid);
        return;
      }
    }
  }

  /**
   * The canary failed: the new master drains (its requests in flight complete) and exits; this
   * one, whose own connections were served all along, takes every new connection again. Killed if it lingers.
   */
  private rollBack(reason: string): void {
    const child = this.child as ChildProcess;
    this.send({ type: 'roll-back', reason });
    const ms = this.o.drainTimeout + ROLLBACK_GRACE;
    const t = setTimeout(() => this.o.log.warn('rollback-killed', `new master ${child.pid} still there ${ms} ms after its roll-back: killed ${this.killTree(child.pid as number).join(', ')}`, { newPid: child.pid }), ms);
    t.unref();
    child.once('exit', () => clearTimeout(t));
    this.fail(reason, false);
  }

  private killTree(pid: number): number[] {
    return (this.o.killTree ?? killTree)(pid, this.forked);
  }

  /** Probation passed: the new master takes over alone. */
  private settle(pid: number, dropped: string[]): void {
    if (this.finished) return;
    this.handOver.to('serving');
    this.ended();
    this.emit('serving', pid, dropped);
    // a supervisor follows its masters itself (lib/supervisor/supervisor.ts)
    if (this.o.oldPid !== process.pid) return this.handOver.to('released');
    this.send({ type: 'release' });
    this.errors = [];
    // The channel stays open, but keeps nobody alive: the new master says on it when it is
    // no longer the one serving; an error it throws arrives as the reason it died.
    const child = this.child as ChildProcess;
    child.channel?.unref();
    child.unref();
  }

  /** The old master no longer follows the new one (it stops, or the new one moved on). */
  release(): void {
    const child = this.child;
    if (!this.handOver.is('serving') || child === undefined) return;
    this.handOver.to('released');
    if (child.connected) child.disconnect();
  }

  /** Gives up: kills the new master's whole tree (unless it was asked to roll back) and restores the pid file. */
  fail(reason: string, kill = true): void {
    if (this.finished) return;
    this.handOver.to(kill ? 'failed' : 'rolled-back');
    this.ended();
    const pid = this.child?.pid;
    if (pid !== undefined && kill) {
      const killed = this.killTree(pid);
      if (killed.length > 0) this.o.log.debug('upgrade-killed', `killed ${killed.join(', ')}`);
    }
    if (this.o.pidFile !== undefined && this.o.oldPid !== undefined) {
      writePidFile(this.o.pidFile, this.o.oldPid);
      removePidFileIf(oldbinPath(this.o.pidFile), this.o.oldPid);
    }
    this.emit('failed', this.withErrors(reason));
  }

  /** `what`, with the errors the new master reported. */
  private withErrors(what: string): string {
    return this.errors.length > 0 ? `${what}: ${this.errors.join(' | ')}` : what;
  }

  /** Starting, probation and judging are over, either way. */
  private ended(): void {
    clearTimeout(this.timer);
    this.trial?.end();
    this.early?.remove();
  }
}
