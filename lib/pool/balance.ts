// Fairness among workers that accept for themselves (lib/worker/acceptor.ts).
//
// Workers sharing one listening socket are not balanced by the kernel: every waiting worker
// is woken for a connection and the first to run takes it, and libuv accepts until the
// queue is empty. A burst of keep-alive connections lands on one worker, and the worker
// that happens to be running keeps winning fresh ones. So the master watches what each
// worker reports every TICK ms (open connections, connections accepted so far) and:
//
// - pauses a worker that holds more open connections than its fair share
//   (ceil(total / workers)), and, when it holds more than one over its share, or is over it
//   at all while another worker is STARVED (two or more under the share), for
//   SHED_PERSIST ticks in a row (not a passing spike of short connections), asks it to
//   shed the excess: those keep-alive connections
//   answer their next request with `Connection: close`, and the client's next connection
//   lands on a worker that accepts (nothing is reset or refused);
// - pauses a worker that accepted more than (1 + EPSILON) / workers of the connections of
//   the last WINDOW ticks (fresh-connection load);
// - resumes a paused worker once it is back within its share;
// - never pauses every worker: the least busy one always accepts.
//
// A decision costs one small IPC message; pausing and resuming a worker cost it a close()
// and a listen() of its duplicate. Nothing here runs per connection.

export const TICK = 25;
export const WINDOW = 10;
export const EPSILON = 0.1;
/** A worker is asked to shed connections at most this often... */
export const SHED_EVERY = 250;
/** ...and only once it was over its share by more than one for this many ticks in a row. */
export const SHED_PERSIST = 4;

export interface Report {
  id: number;
  /** Open connections now. */
  open: number;
  /** Connections accepted since the worker started (a counter). */
  accepted: number;
}

export interface Decision {
  pause: number[];
  resume: number[];
  /** [worker id, how many keep-alive connections to close after their current request]. */
  shed: Array<[number, number]>;
}

interface Member {
  paused: boolean;
  lastAccepted: number | undefined;
  history: number[];
  shedAt: number;
  /** Consecutive ticks over its share of open connections by more than one. */
  over: number;
}

export class Balancer {
  private readonly members = new Map<number, Member>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The workers that accept now (ids); a worker not listed any more is forgotten. */
  tick(reports: Report[]): Decision {
    const decision: Decision = { pause: [], resume: [], shed: [] };
    const seen = new Set(reports.map((r) => r.id));
    for (const id of this.members.keys()) if (!seen.has(id)) this.members.delete(id);
    const n = reports.length;
    if (n === 0) return decision;
    let open = 0;
    let recent = 0;
    const windowOf = new Map<number, number>();
    for (const r of reports) {
      let m = this.members.get(r.id);
      if (m === undefined) {
        m = { paused: false, lastAccepted: undefined, history: [], shedAt: 0, over: 0 };
        this.members.set(r.id, m);
      }
      m.history.push(m.lastAccepted === undefined ? 0 : Math.max(0, r.accepted - m.lastAccepted));
      m.lastAccepted = r.accepted;
      if (m.history.length > WINDOW) m.history.shift();
      const w = m.history.reduce((a, b) => a + b, 0);
      windowOf.set(r.id, w);
      open += r.open;
      recent += w;
    }
    const cap = Math.ceil(open / n);
    // 5/5/4/0 of 14 keeps every worker within cap + 1, yet one serves nearly nothing
    const starved = n > 1 && Math.min(...reports.map((r) => r.open)) <= cap - 2;
    const want = new Map<number, boolean>();
    const now = this.now();
    for (const r of reports) {
      const m = this.members.get(r.id) as Member;
      const w = windowOf.get(r.id) as number;
      const overOpen = n > 1 && r.open > cap;
      const overRate = n > 1 && recent >= 4 * n && w > ((1 + EPSILON) * recent) / n;
      want.set(r.id, overOpen || overRate);
      m.over = n > 1 && (r.open > cap + 1 || (starved && r.open > cap)) ? m.over + 1 : 0;
      if (m.over >= SHED_PERSIST && now - m.shedAt >= SHED_EVERY) {
        m.shedAt = now;
        decision.shed.push([r.id, r.open - cap]);
      }
    }
    if (reports.every((r) => want.get(r.id))) {
      // the least busy keeps accepting: connections must never wait for a tick
      const least = [...reports].sort((a, b) => (windowOf.get(a.id) as number) - (windowOf.get(b.id) as number) || a.open - b.open)[0] as Report;
      want.set(least.id, false);
    }
    for (const r of reports) {
      const m = this.members.get(r.id) as Member;
      const pause = want.get(r.id) as boolean;
      if (pause && !m.paused) decision.pause.push(r.id);
      if (!pause && m.paused) decision.resume.push(r.id);
      m.paused = pause;
    }
    return decision;
  }

  /** A worker that (re)starts accepting from scratch: its history no longer applies. */
  forget(id: number): void {
    this.members.delete(id);
  }
}
