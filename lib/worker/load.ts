// A worker's load reports: how many connections it holds and whether it accepts now, for the
// master's share (lib/pool/balance.ts); a pause that lasts is told at once (docs/architecture.md,
// "The data path": the share grows as soon as every worker holds its own).
import type { FromWorker } from '../messages';

/** How often a worker tells the master how many connections it holds (only when that changed). */
export const LOAD_EVERY = 25;
/** A worker still paused at its share this long after it paused says so at once. */
export const PAUSED_REPORT_AFTER = 2;

/** What a load report says: connections held, accepting now, pauses at the share so far. */
export type Load = Omit<Extract<FromWorker, { type: 'load' }>, 'type'>;

export class LoadReports {
  private timer: NodeJS.Timeout | undefined;
  private paused: NodeJS.Timeout | undefined;
  private last = '';
  private stopped = false;

  constructor(private readonly read: () => Load, private readonly send: (m: FromWorker) => void) {}

  /** Reports now, and from now on every LOAD_EVERY ms. */
  start(): void {
    if (this.stopped) return;
    this.timer ??= setInterval(() => this.report(), LOAD_EVERY).unref();
    this.report();
  }

  /** The worker stopped (false) or started (true) accepting. */
  changed(accepting: boolean): void {
    if (accepting || this.paused !== undefined || this.stopped) return;
    this.paused = setTimeout(() => {
      this.paused = undefined;
      if (!this.read().accepting) this.report();
    }, PAUSED_REPORT_AFTER).unref();
  }

  /** What changed since the last report, if anything. */
  report(): void {
    if (this.stopped) return;
    const load = this.read();
    const key = `${load.open}|${load.accepting}`;
    if (key === this.last) return;
    this.last = key;
    this.send({ type: 'load', ...load });
  }

  /** No more reports (the worker drains). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.paused !== undefined) clearTimeout(this.paused);
  }
}
