// What `baton status` shows: the master, its listeners, the upgrade in progress and every
// generation with its workers, read from what the master and its pools hold.
import type { Generation } from '../pool/generation';
import type { Listener } from '../sockets/ledger';
import type { MasterState } from './states';

export interface StatusSource {
  generation: number;
  state: MasterState;
  startedAt: number;
  workers: number;
  sockets: Listener[];
  upgradePid: number | null | undefined;
  generations: Iterable<Generation>;
}

export function renderStatus(m: StatusSource, now = Date.now()): Record<string, unknown> {
  return {
    master: {
      pid: process.pid,
      generation: m.generation,
      state: m.state,
      startedAt: new Date(m.startedAt).toISOString(),
      uptime: now - m.startedAt,
      workers: m.workers,
      rss: process.memoryUsage.rss(),
    },
    listeners: m.sockets.map((l) => ({ name: l.name, address: l.address() })),
    upgrade: m.upgradePid !== undefined ? { pid: m.upgradePid } : null,
    generations: [...m.generations].map((g) => ({
      id: g.id,
      state: g.state,
      startedAt: new Date(g.startedAt).toISOString(),
      restarts: g.restarts,
      workers: [...g.slots.values()].map((w) => ({
        pid: w.pid,
        state: w.leaving && w.state !== 'draining' ? 'replacing' : w.state,
        /** Accepts on the sockets itself now (its generation accepts, and it holds less than its share). */
        accepting: w.accepting && w.acceptingNow,
        /** Fairness so far: times it paused at its share, keep-alive connections it was asked to shed, socket duplicates sent. */
        fairness: { ...w.fairness, handles: w.given.size },
        connections: w.connections,
        requests: w.requests,
        rss: w.rss,
        uptime: now - w.startedAt,
      })),
    })),
  };
}
