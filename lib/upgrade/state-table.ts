/**
 * A state moved only along `table` (a move off it is a bug in baton): a hand-over's phase
 * (lib/upgrade/phases.ts), a master's state (lib/master/states.ts), the supervisor's (lib/supervisor/states.ts).
 */
export class StateTable<S extends string> {
  private current: S;

  /** @param what what the error of a move off the table calls the state */
  constructor(private readonly table: Readonly<Record<S, readonly S[]>>, first: S, private readonly what: string) {
    this.current = first;
  }

  get state(): S {
    return this.current;
  }

  /** Whether the state is one of `states`. */
  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  to(next: S): void {
    if (!this.table[this.current].includes(next)) throw new Error(`baton: internal error: ${this.what} ${this.current} -> ${next} is not a transition`);
    this.current = next;
  }
}
