// Taking service back (nginx mode; docs/architecture.md, "Taking service back"): once the
// sockets the old master kept accept again (KeptSockets.takeBack() in lib/sockets/ledger.ts,
// which this piece only waits for), a fresh generation of the release its own workers ran (the
// new release may be why the new master died), failing that one of the current release.
import { EventEmitter } from 'node:events';
import type { Generation } from '../pool/generation';
import type { Logger } from '../log/log';
import { pinnedExec, workerExec, type StartContext, type WorkerExec } from '../os/relaunch';

export interface TakeBackOptions {
  start: StartContext;
  /** The generation this master served with before it handed over. */
  old: Generation | undefined;
  /** Creates (not starts) a generation running `exec` (undefined: the current release). */
  newGeneration: (exec: WorkerExec | undefined) => Generation;
  log: Logger;
  /** Whether the master still takes service back (not once it stopped, serves, or gave up). */
  wanted: () => boolean;
}

export interface TakeBackEvents {
  ready: [gen: Generation];
  failed: [reason: string];
}

export class TakeBack extends EventEmitter<TakeBackEvents> {
  constructor(private readonly o: TakeBackOptions) {
    super();
  }

  /** `listening`: the kept sockets accepting again. */
  async run(listening: Promise<void>): Promise<void> {
    try {
      await listening;
    } catch (err) {
      this.fail(`cannot listen again: ${(err as Error).message}`);
      return;
    }
    if (!this.o.wanted()) return; // the master stopped meanwhile
    const old = this.o.old;
    const pinned = old?.loaded;
    const current = workerExec(this.o.start);
    if (pinned === undefined) this.attempt(undefined, current, `the files of generation ${old?.id} are gone: the current release`, true);
    // the last attempt when the current release is that one
    else this.attempt(pinned, current, `the release generation ${old?.id} ran`, pinnedExec(current)?.script === pinned.script);
  }

  private attempt(exec: WorkerExec | undefined, current: WorkerExec, what: string, last: boolean): void {
    const gen = this.o.newGeneration(exec);
    this.o.log.info('taking-back', `generation ${gen.id} starts from ${(exec ?? current).script} (${what})`);
    const fail = (why: string): void => {
      if (!this.o.wanted()) return; // left to the stopping master's drain
      gen.abort();
      if (!last) {
        this.o.log.warn('take-back-retry', `generation ${gen.id} could not start: ${why}; trying the current release`);
        this.attempt(undefined, current, 'the current release', true);
      } else this.fail(`generation ${gen.id} could not start: ${why}`);
    };
    gen.on('failed', fail);
    gen.on('ready', () => {
      gen.removeListener('failed', fail);
      if (this.o.wanted()) this.emit('ready', gen);
    });
    gen.start();
  }

  private fail(reason: string): void {
    if (this.o.wanted()) this.emit('failed', reason);
  }
}
