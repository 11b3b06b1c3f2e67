// What a master shows the world as its state changes, in one place: its pid file (and
// <pidFile>.oldbin), the control socket, systemd's notifications (lib/os/notify.ts), the
// process title, and how it exits. The coordinator (lib/master/master.ts) calls it at each
// transition; it holds no state of the master's and changes none.
import type { ResolvedOptions } from '../config/options';
import type { ExitHooks } from '../worker/exit-hooks';
import { ControlServer, type ControlTarget } from '../control/socket';
import type { Logger } from '../log/log';
import type { Notifier } from '../os/notify';
import { setTitle } from '../os/title';
import { oldbinPath, readPidFile, removePidFileIf, writePidFile } from '../os/pidfile';

export class Surface {
  private control: ControlServer | undefined;

  /** @param handedOff this master was spawned by an upgrade (the control socket's path is taken over) */
  constructor(private readonly opts: ResolvedOptions, private readonly log: Logger, readonly notifier: Notifier, private readonly hooks: ExitHooks, private readonly handedOff: boolean) {}

  /** `gen` serves (first, or after a take-back): the pid file names this master, the CLI reaches it. */
  async serving(gen: { id: number; readyCount(): number }, takenBack: boolean, target: () => ControlTarget): Promise<void> {
    const { pidFile } = this.opts;
    if (pidFile !== undefined) {
      writePidFile(pidFile, process.pid);
      if (takenBack) removePidFileIf(oldbinPath(pidFile), process.pid);
    }
    await this.openControl(takenBack, target);
    this.notifier.ready(process.pid, `generation ${gen.id} serving`);
    setTitle('master', gen.id, 'serving');
    this.log.info('serving', `generation ${gen.id} serving with ${gen.readyCount()} worker(s)`);
  }

  private async openControl(again: boolean, target: () => ControlTarget): Promise<void> {
    if (this.opts.controlSocket === undefined || (this.control && !again)) return;
    const control = this.control ?? new ControlServer(this.opts.controlSocket, target());
    try {
      await control.open(this.handedOff || again);
      this.control = control;
      this.log.debug('control-listening', `control socket ${control.path}`);
    } catch (err) {
      this.log.error('control-failed', `cannot open the control socket ${this.opts.controlSocket}: ${(err as Error).message}; the baton CLI cannot reach this master (signals still work)`);
    }
  }

  /** Stopping (signal, CLI, supervisor): systemd (unless a rolled-back new master: the service goes on) and the process title say so. */
  stopping(generation: number, notify = true): void {
    if (notify) this.notifier.stopping();
    setTitle('master', generation, 'stopping');
  }

  /** An upgrade failed after the new master took the control socket's path over: this master takes it back. */
  async reclaimControl(): Promise<void> {
    try {
      await this.control?.reclaim();
    } catch (err) {
      this.log.error('control-failed', `cannot take the control socket ${this.opts.controlSocket} back: ${(err as Error).message}; the baton CLI cannot reach this master (signals still work)`);
    }
  }

  /** No more commands here: `remove` the socket file (it is this master's), or leave it to the new master. */
  releaseControl(remove: boolean): void {
    if (remove) this.control?.remove();
    else this.control?.stopListening();
  }

  /** Every generation drained: the pid files go (<pidFile> too when `stopping`). */
  leave(stopping: boolean): void {
    const { pidFile } = this.opts;
    if (pidFile !== undefined) {
      removePidFileIf(oldbinPath(pidFile), process.pid);
      if (stopping) removePidFileIf(pidFile, process.pid);
    }
    this.log.info('exit', 'all generations drained; exiting');
  }

  /** Then beforeExit functions run (bounded by exitTimeout), the control socket and systemd are flushed, and the process exits. */
  exit(code: number, reason: string): void {
    const control = this.control;
    const hooks = this.hooks.run(reason, this.opts.exitTimeout);
    setImmediate(() => {
      void Promise.all([control?.flush(), this.notifier.flush(), hooks]).then(() => process.exit(code));
    });
  }

  /** Start-up failed: the pid file goes if it names this master, and the process exits 1. */
  fatal(): void {
    const { pidFile } = this.opts;
    if (pidFile !== undefined && readPidFile(pidFile) === process.pid) removePidFileIf(pidFile, process.pid);
    setTimeout(() => process.exit(1), 50);
  }
}
