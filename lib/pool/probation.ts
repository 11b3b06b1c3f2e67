// Probation: a change (a reload's new generation, an upgrade's new master) serves beside
// what it replaces for `probation` ms; a worker it loses in that time rolls the change back
// while the old code is still there to serve. A trial (lib/pool/trial.ts) holds one for a reload
// and for the old master's side of an upgrade; the new master's first generation has its own
// (lib/upgrade/predecessor.ts). A generation asks it when a worker dies.
/** The share of the old generation's keep-alive connections moved to the new code as its
 * probation starts (why: docs/architecture.md, "Reload (SIGHUP)"). */
export const PROBATION_SHARE = 0.5;

export class Probation {
  private until = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly ms: number, private readonly now: () => number = Date.now) {}

  /** From now for `ms`; `passed` runs when it ends on its own (never after end()). */
  begin(passed?: () => void): void {
    this.end();
    this.until = this.now() + this.ms;
    if (passed === undefined) return;
    this.timer = setTimeout(() => {
      this.end();
      passed();
    }, this.ms);
  }

  /** Whether a worker lost now fails the change instead of being replaced. */
  get active(): boolean {
    return this.now() < this.until;
  }

  /** Over before its time: passed (the old master handed over), failed, or nobody to roll back to. */
  end(): void {
    this.until = 0;
    clearTimeout(this.timer);
  }
}
