// A change on trial, the same for a reload (lib/pool/reload.ts) and an upgrade
// (lib/upgrade/attempt.ts): it serves beside what it replaces for its probation
// (lib/pool/probation.ts), then the canary judges it (lib/observe/canary.ts), then it passes or
// rolls back.
//
//   begin          the judge's window opens; the probation runs
//   (a crash meanwhile: the caller fails the change and ends the trial)
//   probation over no judge: pass
//                  the new side counted here (reload): judged at once
//                  counted in the new master (upgrade): asked for its tally (ask), which comes
//                  to evidence(); none within REPORT_TIMEOUT: judged on crashes alone
//   verdict        from a judge in another process (`baton run`: the old master judges for the
//                  supervisor's attempt) it may come later: at most REPORT_TIMEOUT again
//                  fail: rollBack(`<what> rolled back: <figures>`); anything else: pass
//
// What a roll-back does is each side's (rollBack): docs/architecture.md, "The canary".
import type { Logger } from '../log/log';
import type { Judge, Verdict } from '../observe/canary';
import { Probation } from './probation';

/** How long a trial waits for evidence asked of the new master, and again for a verdict from another process. */
export const REPORT_TIMEOUT = 2_000;

export interface TrialOptions {
  what: 'reload' | 'upgrade';
  /** Who is on trial, for the log: "generation 4", "new master 1234"; `fields` go with its lines. */
  subject: string;
  fields?: Record<string, unknown>;
  ms: number;
  judge?: Judge | undefined;
  log?: Logger;
  /** Asks the new master for its tally, which comes to evidence(); absent: the new side is counted here. */
  ask?: () => void;
  /** The evidence as it came, before it is judged (`baton run` forwards it). */
  heard?: (evidence: unknown) => void;
  /** Promote: no worse, too few responses to tell, or no verdict (crashes alone). */
  pass: (v: Verdict | undefined) => void;
  rollBack: (reason: string) => void;
}

export class Trial {
  readonly probation: Probation;
  private stage: 'serving' | 'asked' | 'judging' | 'over' = 'serving';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: TrialOptions) {
    this.probation = new Probation(o.ms);
  }

  /** The probation starts. */
  begin(): void {
    this.o.judge?.begin();
    this.probation.begin(() => this.judge());
  }

  /** The tally asked of the new master (one per ask): judged. */
  evidence(x: unknown): void {
    if (this.stage !== 'asked') return;
    this.stage = 'judging';
    this.o.heard?.(x);
    this.decide((this.o.judge as Judge).verdict(x));
  }

  /** Over without a verdict acted on (the change failed otherwise, or the master stops). */
  end(): void {
    this.stage = 'over';
    this.probation.end();
    if (this.timer) clearTimeout(this.timer);
  }

  private judge(): void {
    if (this.stage !== 'serving') return;
    const { judge, ask } = this.o;
    if (judge === undefined) {
      this.end();
      return this.o.pass(undefined);
    }
    if (ask === undefined) {
      this.stage = 'judging';
      return this.decide(judge.verdict());
    }
    this.stage = 'asked';
    this.arm();
    ask();
  }

  private decide(v: Verdict | undefined | Promise<Verdict | undefined>): void {
    if (!(v instanceof Promise)) return this.finish(v);
    this.arm();
    // a judge that cannot answer says why by rejecting (`baton run`: the old master died)
    void v.then((w) => this.finish(w), (err: unknown) => this.finish(undefined, err instanceof Error ? err.message : undefined));
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(undefined), REPORT_TIMEOUT);
  }

  /** Acts on the verdict, once (undefined: none came in time, the tally was malformed, or `why`). */
  private finish(v: Verdict | undefined, why?: string): void {
    if (this.stage === 'over') return;
    this.end();
    const { log, subject, fields, what } = this.o;
    if (v === undefined) log?.warn('canary', `no verdict on ${subject} (${why ?? `no tally within ${REPORT_TIMEOUT} ms, or an older baton on the other side`}): judged on crashes alone`, fields);
    else log?.info('canary', `${subject}: ${v.result}: ${v.reason}`, fields);
    if (v?.result === 'fail') this.o.rollBack(`${what} rolled back: ${v.reason}`);
    else this.o.pass(v);
  }
}
