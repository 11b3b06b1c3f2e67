// A generation of workers without workers: it records start() and abort(); the test emits its
// 'ready' and 'failed'. For the code that starts generations and follows them (the take-back).
import { EventEmitter } from 'node:events';
import type { WorkerExec } from '../../../lib/os/relaunch';

export class FakeGeneration extends EventEmitter {
  started = false;
  aborted = false;
  constructor(readonly id: number, readonly exec: WorkerExec | undefined, readonly loaded?: WorkerExec) {
    super();
  }
  start(): void {
    this.started = true;
  }
  abort(): void {
    this.aborted = true;
  }
}
