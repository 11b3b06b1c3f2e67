// The old master's exchange at the end of an upgrade's probation, bounded in time:
//
//   old master                                   new master (on probation)
//   report ------------------------------------>
//        <--------------- tally                  its first generation's responses
//   judged (here, or by the old master under `baton run`: lib/supervisor/bridge.ts)
//   no worse: release (lib/upgrade/attempt.ts)
//   worse: roll-back {reason} ----------------->  drains like a stopping master (no request is
//                                                 cut), leaves the socket files, the pid file and
//                                                 the control socket's path to the old master
//   (still there drainTimeout + ROLLBACK_GRACE later: SIGKILLed with its tree, as a failure)
//
// Why apart: the attempt only says what to do with the verdict; the waiting (for a tally, then
// for a verdict that may come from another process) and its bounds are here. A new master of an
// older baton never answers: after REPORT_TIMEOUT the verdict is undefined (crashes alone).
import type { ChildProcess } from 'node:child_process';
import type { Verdict } from '../observe/canary';
import type { Logger } from '../log/log';
import { REPORT_TIMEOUT, type UpgradeJudge } from './canary';

/** How long past drainTimeout a rolled-back new master may take to exit before it is killed. */
export const ROLLBACK_GRACE = 5_000;

export interface CanaryCallOptions {
  judge: UpgradeJudge;
  /** The new master's. */
  pid: number;
  log: Logger;
  /** The tally as it came, before it is judged (`baton run` forwards it). */
  tally: (tally: unknown) => void;
  /** Promote: no worse, or no verdict (judged on crashes alone). */
  pass: () => void;
  /** Roll back, with the reason (`upgrade rolled back: ` and the figures). */
  rollBack: (reason: string) => void;
}

/** A rolled-back new master still there `ms` later is killed with its tree (`kill` returns the pids killed). */
export function killIfLingering(child: ChildProcess, ms: number, kill: () => number[], log: Logger): void {
  const t = setTimeout(() => log.warn('rollback-killed', `new master ${child.pid} still there ${ms} ms after its roll-back: killed ${kill().join(', ')}`, { newPid: child.pid }), ms);
  t.unref();
  child.once('exit', () => clearTimeout(t));
}

export class CanaryCall {
  private timer: NodeJS.Timeout | undefined;
  /** 'report' sent, its tally not come yet. */
  private waiting = false;
  private over = false;

  constructor(private readonly o: CanaryCallOptions) {}

  /** Asks for the tally (`send` sends 'report'). */
  ask(send: () => void): void {
    this.waiting = true;
    this.arm();
    send();
  }

  /** The new master's answer: judged, within REPORT_TIMEOUT again. One tally per report. */
  tally(tally: unknown): void {
    if (!this.waiting || this.over) return;
    this.waiting = false;
    this.o.tally(tally);
    this.arm();
    const v = this.o.judge.verdict(tally);
    if (v instanceof Promise) void v.then((w) => this.finish(w), () => this.finish(undefined));
    else this.finish(v);
  }

  /** The attempt ended otherwise (failed, stopped): no verdict is acted on. */
  cancel(): void {
    this.over = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(undefined), REPORT_TIMEOUT);
  }

  /** Acts on the verdict, once (undefined: none within REPORT_TIMEOUT, or a malformed tally). */
  private finish(v: Verdict | undefined): void {
    if (this.over) return;
    this.cancel();
    const { log, pid } = this.o;
    if (v === undefined) log.warn('canary', `no verdict on new master ${pid} (no tally within ${REPORT_TIMEOUT} ms, or an older baton on the other side): judged on crashes alone`, { newPid: pid });
    else log.info('canary', `new master ${pid}: ${v.result}: ${v.reason}`, { newPid: pid });
    if (v?.result === 'fail') this.o.rollBack(`upgrade rolled back: ${v.reason}`);
    else this.o.pass();
  }
}
