// A worker's request counting (lib/observe/request-stats.ts) and its reports to the master: only
// the worker sees responses. What it counted goes as a small delta every REPORT_EVERY ms, only
// when it served something, and once more before the worker exits (its drain done, so every
// response it served is in it). BATON_REQUEST_STATS=off turns counting off (docs/options.md): no
// listener is added, nothing is sent.
import type { Server } from 'node:net';
import { RequestStats } from '../observe/request-stats';
import type { FromWorker } from '../messages';

export const REPORT_EVERY = 100;

export function countingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.BATON_REQUEST_STATS ?? '').toLowerCase();
  return v !== 'off' && v !== '0' && v !== 'false';
}

export class RequestCounting {
  /** Where the drain tracker tells the responses of the servers it follows; undefined when counting is off. */
  readonly sink: RequestStats | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** @param warmupMs the responses of this worker's first warmupMs of serving are its warm-up (RequestStats) */
  constructor(private readonly send: (m: FromWorker, then?: () => void) => void, enabled = countingEnabled(), warmupMs = 0) {
    this.sink = enabled ? new RequestStats(warmupMs) : undefined;
  }

  /** Counts the requests of `server`, unless `tracked` (the drain tracker tells `sink` of them). */
  watch(server: Server, tracked = false): void {
    if (this.sink === undefined) return;
    if (!tracked) this.sink.watch(server);
    this.timer ??= setInterval(() => this.report(), REPORT_EVERY).unref();
  }

  /** Sends what was counted since the last report, if anything; `then` runs once it is on its way. */
  report(then?: () => void): void {
    const delta = this.sink?.takeDelta();
    if (delta === undefined) {
      then?.();
      return;
    }
    this.send({ type: 'requests', delta }, then);
  }

  /** The last report, then no more (the worker exits). */
  close(then: () => void): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.report(then);
  }
}
