// Fairness among workers that accept for themselves (lib/worker/acceptor.ts): the share, and
// shedding. Why and how, with the measurements: docs/architecture.md, "The data path". In short,
// each worker stops accepting the moment it holds its *share* (every connection counts), which the
// master computes from the workers' reports and sends when it changes:
//
//   share = max(ceil(total / workers), least + 1)
//
// (nobody takes more than the mean, rounded up; the least busy worker always accepts, so
// connections never wait for every worker to be paused; a lone worker has no share). Keep-alive
// connections already held unevenly are moved by *shedding* (`Connection: close` after their next
// response): nothing is reset or refused.

/**
 * How often the master looks at the reports for shedding (and catches workers that left), while
 * there is something to look at: a report came since the last tick, or a worker is over the mean.
 * Otherwise the ticks stop until the next report (a steady load sends none: the master sleeps).
 */
export const TICK = 25;
/** A worker is asked to shed connections at most this often... */
export const SHED_EVERY = 250;
/** ...and only once it was over the mean for this many ticks in a row (not a passing spike). */
export const SHED_PERSIST = 4;
/** The share sent when there is none (a lone worker): IPC carries no Infinity. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

export interface Report {
  id: number;
  /** Connections it holds now. */
  open: number;
}

/** A worker accepts while it holds fewer connections than this. */
export function shareOf(reports: readonly Report[]): number {
  if (reports.length < 2) return NO_LIMIT;
  let total = 0;
  let least = Infinity;
  for (const r of reports) {
    total += r.open;
    least = Math.min(least, r.open);
  }
  // the least busy keeps accepting: were every worker at the mean, none would
  return Math.max(Math.ceil(total / reports.length), least + 1);
}

interface Member {
  shedAt: number;
  /** Consecutive ticks over the mean (by more than one, or at all while another starves). */
  over: number;
}

/** Which workers shed how many keep-alive connections, tick by tick. */
export class Shedding {
  private readonly members = new Map<number, Member>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether some worker is over the mean now: the ticks must go on until it sheds or comes back. */
  get watching(): boolean {
    for (const m of this.members.values()) if (m.over > 0) return true;
    return false;
  }

  /** [worker id, connections to close after their next response]; a worker not listed is forgotten. */
  tick(reports: readonly Report[]): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const seen = new Set(reports.map((r) => r.id));
    for (const id of this.members.keys()) if (!seen.has(id)) this.members.delete(id);
    const n = reports.length;
    if (n < 2) return out;
    const cap = Math.ceil(reports.reduce((a, r) => a + r.open, 0) / n);
    // 5/5/4/0 of 14 keeps every worker within cap + 1, yet one serves nearly nothing
    const starved = Math.min(...reports.map((r) => r.open)) <= cap - 2;
    const now = this.now();
    for (const r of reports) {
      const m = this.members.get(r.id) ?? { shedAt: 0, over: 0 };
      this.members.set(r.id, m);
      m.over = r.open > cap + 1 || (starved && r.open > cap) ? m.over + 1 : 0;
      if (m.over >= SHED_PERSIST && now - m.shedAt >= SHED_EVERY) {
        m.shedAt = now;
        out.push([r.id, r.open - cap]);
      }
    }
    return out;
  }
}
