// systemd's notification protocol (Type=notify, NotifyAccess=all; docs/deployment.md): READY=1,
// MAINPID=, RELOADING=1, STOPPING=1. Node cannot send the UNIX datagrams to $NOTIFY_SOCKET without
// a native addon, so baton runs systemd's own `systemd-notify` (present wherever systemd is).
import { execFile } from 'node:child_process';
import type { Logger } from '../log/log';

export class Notifier {
  private readonly socket = process.env.NOTIFY_SOCKET;
  private chain: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(private log: Logger, private readonly enabled = true) {}

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
    if (!this.enabled || this.socket === undefined || this.socket === '') return;
    this.chain = this.chain.then(() => new Promise<void>((resolve) => {
      execFile('systemd-notify', vars, { timeout: 5_000, env: { ...process.env, NOTIFY_SOCKET: this.socket } }, (err) => {
        const why = err ? notifyFailure(err, vars) : undefined;
        if (why !== undefined && !this.warned) {
          this.warned = true;
          this.log.warn('notify-failed', `cannot notify systemd (${vars.join(' ')}): ${why}`);
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

/**
 * What to say about a failed systemd-notify, or undefined to say nothing: on `systemctl stop`
 * systemd's SIGTERM to the whole control group may catch the `systemd-notify STOPPING=1` just
 * started, after systemd has the message (seen under systemd 252, spec/integration/systemd.spec.ts).
 */
export function notifyFailure(err: Error & { code?: unknown; signal?: unknown; killed?: unknown }, vars: string[]): string | undefined {
  if (err.killed === true) return 'systemd-notify did not finish within 5 s';
  if (err.code === 'ENOENT') return 'systemd-notify is not installed (it comes with systemd); install it, or unset NOTIFY_SOCKET';
  if (typeof err.signal === 'string' && err.signal !== '') {
    if (vars.includes('STOPPING=1') && err.signal === 'SIGTERM') return undefined;
    return `systemd-notify was killed by ${err.signal}`;
  }
  if (typeof err.code === 'number') return `systemd-notify exited with code ${err.code}`;
  return err.message;
}
