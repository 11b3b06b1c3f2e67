// Crash back-off: one policy for every process baton restarts (a serving generation's
// workers, lib/pool/generation.ts; `baton run`'s masters, lib/supervisor/supervisor.ts), told
// in docs/architecture.md ("Processes that die").
export const BACKOFF_MIN = 100;
export const BACKOFF_MAX = 10_000;
export const STABLE_AFTER = 30_000;

export class Backoff {
  private crashes = 0;
  private lastCrash = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A crash now: the ms to wait before the replacement starts. */
  next(): number {
    const t = this.now();
    if (t - this.lastCrash > STABLE_AFTER) this.crashes = 0;
    this.lastCrash = t;
    this.crashes++;
    return Math.min(BACKOFF_MIN * 2 ** (this.crashes - 1), BACKOFF_MAX);
  }

  /** The replacement serves: the next crash waits the shortest again. */
  reset(): void {
    this.crashes = 0;
  }
}
