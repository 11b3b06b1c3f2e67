// The requests that did not get a complete 2xx response, one by one (the report shows the
// first 10, the JSON the first 200): in which run, when, on which kind of connection, after
// how long, and in the upgrade phase how long after the last signal.
import type { RunEntry } from './session';
import { round } from './stats';
import type { BenchEvent } from './takeover';

export interface Failure {
  run: string;
  /** ms from the start of its run to when it was sent. */
  sentAt: number;
  /** ms from sending to the error (null: still in flight at the end). */
  afterMs: number | null;
  what: string;
  keepAlive: boolean;
  /** Keep-alive: how long the reused socket had been idle before this request (null: a new socket). */
  socketIdleMs: number | null;
  /** Upgrade phase only: the last upgrade/reload signalled before it was sent, and how long before. */
  lastEvent?: string;
  sinceSignalMs?: number;
  sinceServingMs?: number;
}

/** The first `max` failed requests of the runs; `eventsOf` gives an upgrade-phase run's events (times from its start). */
export function listFailures(runs: RunEntry[], eventsOf: (e: RunEntry) => BenchEvent[], max = 200): Failure[] {
  const out: Failure[] = [];
  for (const entry of runs) {
    const r = entry.r;
    const events = eventsOf(entry);
    for (let i = 0; i < r.n && out.length < max; i++) {
      const o = r.outcome[i];
      const st = r.status[i] as number;
      if (o === 1 && st >= 200 && st <= 299) continue;
      const sendAt = (r.sendAt[i] as number) - r.startedAt;
      const f: Failure = {
        run: entry.label,
        sentAt: round(sendAt),
        afterMs: o === 0 ? null : round(r.latency[i] as number),
        what: o === 0 ? 'in flight at the end' : o === 2 ? (r.errorCodes[r.error[i] as number] ?? '?') : `status ${st}`,
        keepAlive: r.keepAlive[i] === 1,
        socketIdleMs: Number.isNaN(r.socketIdle[i]) ? null : round(r.socketIdle[i] as number),
      };
      const last = events.filter((e) => e.signalAt <= sendAt).pop();
      if (last) {
        f.lastEvent = `${last.kind} ${last.index}`;
        f.sinceSignalMs = round(sendAt - last.signalAt);
        if (last.servingAt !== null) f.sinceServingMs = round(sendAt - last.servingAt);
      }
      out.push(f);
    }
  }
  return out;
}
