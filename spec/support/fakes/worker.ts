// A cluster worker without a process: its channel (FakeChannel) and a process whose kill() is a
// stub. spec/unit/pool/pool-units.spec.ts makes cluster.fork() return one.
import * as sinon from 'sinon';
import { FakeChannel } from './channel';

let nextId = 1;

export class FakeWorker extends FakeChannel {
  readonly id = nextId++;
  readonly process = { pid: 10_000 + this.id, kill: sinon.stub() };

  isConnected(): boolean {
    return this.connected;
  }

  /** The worker exits: its channel is gone, then cluster's 'exit'. */
  exit(code: number | null, signal: string | null = null): void {
    this.connected = false;
    this.emit('exit', code, signal);
  }
}
