// systemd's notification protocol (Type=notify, NotifyAccess=all): READY=1 once serving,
// MAINPID= when a new master takes over, RELOADING=1 while an upgrade or reload runs,
// STOPPING=1 on the way out.
//
// The messages are datagrams on the UNIX socket named by $NOTIFY_SOCKET. Node cannot send
// UNIX datagrams without a native addon, so baton runs systemd's own `systemd-notify`
// (present wherever systemd is). Without $NOTIFY_SOCKET nothing is sent; without the
// command, one warning is logged.
import { execFile } from 'node:child_process';
import type { Logger } from './log';

export class Notifier {
  private readonly socket = process.env.NOTIFY_SOCKET;
  private chain: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(private log: Logger, private readonly enabled = true) {}

  get active(): boolean {
    return this.enabled && this.socket !== undefined && this.socket !== '';
  }

  /** Serving: READY=1, and this process (or `mainPid`) is the one systemd should follow. */
  ready(mainPid = process.pid, status?: string): void {
    this.send(['READY=1', `MAINPID=${mainPid}`, ...(status ? [`STATUS=${status}`] : [])]);
  }

  /** An upgrade or reload started (Type=notify-reload wants MONOTONIC_USEC with it). */
  reloading(status?: string): void {
    this.send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, ...(status ? [`STATUS=${status}`] : [])]);
  }

  stopping(): void {
    this.send(['STOPPING=1']);
  }

  /** Sends one message; messages go out in order. */
  send(vars: string[]): void {
    if (!this.active) return;
    this.chain = this.chain.then(() => new Promise<void>((resolve) => {
      execFile('systemd-notify', vars, { timeout: 5_000, env: { ...process.env, NOTIFY_SOCKET: this.socket } }, (err) => {
        if (err && !this.warned) {
          this.warned = true;
          this.log.warn('notify-failed', `cannot notify systemd (${vars.join(' ')}): ${err.message}; is systemd-notify installed?`);
        }
        resolve();
      });
    }));
  }

  /** Resolves once every message was sent (before the process exits). */
  flush(): Promise<void> {
    return this.chain;
  }
}
