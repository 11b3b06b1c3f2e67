// One end of an IPC channel, without a process: what the code under test sends on it is
// recorded (`sent`, each message as sent: baton messages carry their `baton` tag), what the other
// side says is emitted as a 'message' (`say`, wrapped as a baton message). FakeWorker (a cluster
// worker) and FakeChild (a spawned master) are channels with a process behind them; FakeParent is
// `process` as a new master sees it: its channel to the old master.
import { EventEmitter } from 'node:events';
import { msg } from '../../../lib/messages';

/** Node's own nextTick, taken before any test installs sinon's fake clock (which fakes it too). */
const nextTick = process.nextTick.bind(process);

export class FakeChannel extends EventEmitter {
  connected = true;
  readonly sent: Array<{ type: string; [k: string]: unknown }> = [];
  /** send() throws, as Node's does on a channel that closes under it. */
  throws = false;

  /** Records `m`; a send callback is called as Node calls it, once written: on a later tick. */
  send(m: { type: string }, ...rest: unknown[]): boolean {
    if (this.throws) throw new Error('channel closed');
    this.sent.push(m);
    const done = rest.find((r): r is (err: Error | null) => void => typeof r === 'function');
    if (done) nextTick(() => done(null));
    return true;
  }

  disconnect(): void {
    this.connected = false;
  }

  /** The other side sends `m`. */
  say(m: { type: string; [k: string]: unknown }): void {
    this.emit('message', msg(m));
  }
}

/** The new master's `process`: its IPC channel to the old master. */
export class FakeParent extends FakeChannel {}
