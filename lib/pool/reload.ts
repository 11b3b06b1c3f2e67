// A reload (SIGHUP) as one attempt, as lib/upgrade/attempt.ts is for an upgrade:
//
//   start: the new generation forks   --a worker exits, or readyTimeout--> rolled-back (killed)
//   every worker ready: promoted       the master gives it the new connections; the old generation
//                                      stops accepting and sheds half of its keep-alive connections
//   on trial (lib/pool/trial.ts)       --a worker exits--> rolled-back (killed)
//                                      --the canary fails--> rolled-back (drained: its requests in
//                                      flight complete)
//   passed: succeeded                  the master drains the old generation
//
// After a roll-back the old generation, never stopped, accepts again and takes every new
// connection. It reports what happened as events; the master moves which generation serves on
// them, and keeps its own state and logs.
import { EventEmitter } from 'node:events';
import type { Generation } from './generation';
import { Trial } from './trial';
import type { Judge, Verdict } from '../observe/canary';
import type { Logger } from '../log/log';

export interface ReloadEvents {
  /** The new generation is ready: it is to take the new connections (on probation). */
  promoted: [];
  /** It failed: aborted (or, rolled back by the canary, drained); `restored`: the old generation, to take the new connections again (when it still can). */
  'rolled-back': [reason: string, restored: Generation | undefined];
  /** The canary's verdict at the end of probation (passed, or not enough to judge by). */
  judged: [verdict: Verdict];
  /** Probation passed: the old generation may drain. */
  succeeded: [];
}

export class ReloadAttempt extends EventEmitter<ReloadEvents> {
  private done = false;
  private readonly trial: Trial;

  constructor(readonly gen: Generation, readonly old: Generation | undefined, probationMs: number, judge?: Judge, log?: Logger) {
    super();
    this.trial = new Trial({
      what: 'reload', subject: `generation ${gen.id}`, fields: { generation: gen.id }, ms: probationMs, judge, log,
      pass: (v) => {
        if (this.done) return;
        this.done = true;
        if (v !== undefined) this.emit('judged', v);
        this.emit('succeeded');
      },
      rollBack: (reason) => this.rollBack(reason, this.restorable(), true),
    });
  }

  start(): void {
    const { gen } = this;
    // before it is promoted, the old generation never stopped taking new connections
    gen.on('failed', (reason) => this.rollBack(reason, gen.state === 'starting' ? undefined : this.restorable()));
    gen.once('ready', () => {
      if (this.done) return;
      gen.markServing(this.trial.probation);
      this.trial.begin();
      this.emit('promoted');
    });
    gen.start();
  }

  /** Ends it as failed from outside (the master stops): the new generation is killed. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.trial.end();
    this.gen.abort();
  }

  private rollBack(reason: string, restored: Generation | undefined, drain = false): void {
    if (this.done) return;
    this.done = true;
    this.trial.end();
    if (drain) this.gen.drain(reason);
    else this.gen.abort();
    this.emit('rolled-back', reason, restored);
  }

  /** The old generation, if it can take the new connections again (it still serves). */
  private restorable(): Generation | undefined {
    return this.old?.state === 'serving' ? this.old : undefined;
  }
}
