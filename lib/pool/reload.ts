// A reload (SIGHUP) as one attempt, as lib/upgrade/attempt.ts is for an upgrade:
//
//   start: the new generation forks     --a worker exits, or readyTimeout--> rolled-back
//   every worker ready: promoted         (new connections go to it; the old generation
//                                         stops accepting and sheds half of its keep-alive
//                                         connections, whose clients reconnect to the new one)
//   probation ms without losing a worker: succeeded (the master drains the old one)
//                                        --a worker exits--> rolled-back (the old
//                                         generation accepts again)
//
// It reports what happened as events; the master keeps its own state and logs.
import { EventEmitter } from 'node:events';
import type { Generation } from './generation';
import type { SharedSocket } from './slot';
import { Probation, PROBATION_SHARE } from '../upgrade/probation';

export interface ReloadEvents {
  /** The new generation takes new connections (on probation). */
  promoted: [];
  /** It failed: aborted; `restored` when the old generation accepts again. */
  'rolled-back': [reason: string, restored: Generation | undefined];
  /** Probation passed: the old generation may drain. */
  succeeded: [];
}

export class ReloadAttempt extends EventEmitter<ReloadEvents> {
  private done = false;
  private readonly probation: Probation;

  /** @param sockets the sockets its workers accept on, asked when they start to */
  constructor(readonly gen: Generation, readonly old: Generation | undefined, probationMs: number, private readonly sockets: () => SharedSocket[]) {
    super();
    this.probation = new Probation(probationMs);
  }

  get finished(): boolean {
    return this.done;
  }

  start(): void {
    const { gen, old } = this;
    const fail = (reason: string): void => this.rollBack(reason, undefined);
    gen.on('failed', fail);
    gen.once('ready', () => {
      if (this.done) return;
      // New connections go to the new generation; the old one stays, untouched, until the
      // new one has served `probation` ms without losing a worker.
      gen.markServing();
      gen.probation = this.probation;
      this.probation.begin(() => this.succeed());
      gen.acceptOn(this.sockets());
      old?.stopAccepting();
      // clients that keep their connections would never meet the new code before the drain:
      // half of them move now, so it serves (and warms up) beside the old one on probation
      if (this.probation.ms > 0) old?.shedShare(PROBATION_SHARE);
      gen.removeListener('failed', fail);
      gen.on('failed', (reason) => this.rollBack(reason, old && old.state === 'serving' ? old : undefined));
      this.emit('promoted');
    });
    gen.start();
  }

  /** Ends it as failed from outside (the master stops): the new generation is killed. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.probation.end();
    this.gen.abort();
  }

  private rollBack(reason: string, restored: Generation | undefined): void {
    if (this.done) return;
    this.done = true;
    this.probation.end();
    if (restored) restored.acceptOn(this.sockets());
    this.gen.abort();
    this.emit('rolled-back', reason, restored);
  }

  private succeed(): void {
    if (this.done) return;
    this.done = true;
    this.gen.probation = undefined;
    this.emit('succeeded');
  }
}
