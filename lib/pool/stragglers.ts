// A draining worker still there after drainTimeout + exitTimeout + a grace period (a busy loop, a
// hook that never settles; docs/signals.md, 'What "drain" means') is SIGKILLed: per worker (a
// scale-down, a recycled worker) and per generation (its drain: each one killed counts as forced).
import type { WorkerSlot } from './slot';
import type { Logger } from '../log/log';

export interface StragglerTimes {
  drainTimeout: number;
  /** ms a draining worker's beforeExit functions may take after its connections are done. */
  exitTimeout: number;
}

export class Stragglers {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly times: StragglerTimes, private readonly log: Logger) {}

  /** ms from the drain message to SIGKILL: drainTimeout + exitTimeout + a grace of 2 s. */
  get after(): number {
    return this.times.drainTimeout + this.times.exitTimeout + 2_000;
  }

  /** One worker told to drain: killed if `alive()` still says so at the deadline. */
  watchWorker(slot: WorkerSlot, alive: () => boolean): void {
    setTimeout(() => {
      if (alive()) this.kill(slot, `worker ${slot.pid} did not finish draining within drainTimeout + exitTimeout; killing it`);
    }, this.after).unref();
  }

  /** A whole generation drains: whoever is left at the deadline is killed, and counted. */
  watchAll(generation: number, slots: Map<number, WorkerSlot>, killed: () => void): void {
    this.timer = setTimeout(() => {
      for (const slot of slots.values()) {
        this.kill(slot, `worker ${slot.pid} of generation ${generation} did not exit within drainTimeout + exitTimeout; killing it`);
        killed();
      }
    }, this.after).unref();
  }

  private kill(slot: WorkerSlot, message: string): void {
    this.log.warn('worker-killed', message, { workerPid: slot.pid });
    slot.worker.process.kill('SIGKILL');
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
