// One worker of a generation, as the master sees it: its state, its counters (heartbeats,
// load reports) and what it was given to accept on. Shared by the pool's files: the
// generation (lib/pool/generation.ts), who accepts (lib/pool/accepting.ts), the dispatcher
// (lib/pool/dispatch.ts) and `baton status`.
import type { Worker } from 'node:cluster';
import type { Socket } from 'node:net';
import type { FromWorker } from '../messages';

export type WorkerState = 'starting' | 'ready' | 'draining';

export interface WorkerSlot {
  worker: Worker;
  pid: number;
  state: WorkerState;
  startedAt: number;
  lastBeat: number;
  /** Connections it holds, from its last heartbeat or load report (the same count: the later one is the newer). */
  connections: number;
  requests: number;
  rss: number;
  /** Being replaced (recycled or hung): not counted towards the target. */
  leaving: boolean;
  /** Connections handed to send() whose callback has not come yet (in transit), with their listener. */
  sending: Map<Socket, string>;
  lastError?: string;
  /** Told to accept itself (its generation takes new connections). */
  accepting: boolean;
  /** Listeners it has been given a duplicate of. */
  given: Set<string>;
  /** Draining, it said its duplicates are closed (an upgrade waits for that to say it is done). */
  acceptClosed?: boolean;
  /** Accepting now, by its last load report (lib/worker/acceptor.ts decides; this only mirrors it). */
  acceptingNow: boolean;
  /** Fairness so far: times it paused at its share, connections it was asked to shed (the duplicates sent: given.size). */
  fairness: { pauses: number; shed: number };
}

export function newSlot(worker: Worker, now: number): WorkerSlot {
  return {
    worker, pid: worker.process.pid ?? -1, state: 'starting', startedAt: now, lastBeat: now, connections: 0, requests: 0, rss: 0, leaving: false,
    sending: new Map(), accepting: false, given: new Set(), acceptingNow: false, fairness: { pauses: 0, shed: 0 },
  };
}

/** How often workers send a heartbeat (with their counters) for a given workerTimeout. */
export function heartbeatInterval(workerTimeout: number): number {
  if (workerTimeout <= 0) return 1_000;
  return Math.max(50, Math.min(1_000, Math.floor(workerTimeout / 4)));
}

export interface Limits {
  /** ms without a heartbeat after which a serving worker is replaced; 0 disables. */
  workerTimeout: number;
  /** bytes of RSS after which a worker is recycled; 0 disables. */
  maxMemory: number;
  /** requests after which a worker is recycled; 0 disables. */
  maxRequests: number;
}

/** Why a serving worker must be replaced now (hung: no heartbeat; or over a limit), if it must. */
export function overLimit(slot: WorkerSlot, o: Limits, now: number): { why: string; hung: boolean } | undefined {
  const timeout = o.workerTimeout;
  if (timeout > 0 && now - slot.lastBeat > timeout) {
    return { why: `no heartbeat for ${now - slot.lastBeat} ms (workerTimeout ${timeout} ms): its event loop is blocked`, hung: true };
  }
  if (o.maxMemory > 0 && slot.rss > o.maxMemory) {
    return { why: `RSS ${Math.round(slot.rss / 1048576)} MiB is over maxMemory (${Math.round(o.maxMemory / 1048576)} MiB)`, hung: false };
  }
  if (o.maxRequests > 0 && slot.requests >= o.maxRequests) return { why: `served ${slot.requests} requests (maxRequests ${o.maxRequests})`, hung: false };
  return undefined;
}

/** What a worker's heartbeat, load report or error tells about it. */
export function record(slot: WorkerSlot, m: FromWorker): void {
  if (m.type === 'beat') {
    slot.lastBeat = Date.now();
    slot.connections = m.connections;
    slot.requests = m.requests;
    slot.rss = m.rss;
  } else if (m.type === 'load') {
    slot.connections = m.open;
    slot.acceptingNow = m.accepting;
    slot.fairness.pauses = m.pauses;
  } else if (m.type === 'error') slot.lastError = m.message;
  else if (m.type === 'accept-closed') slot.acceptClosed = true;
}

/** A worker that may still accept on a duplicate: given one, alive, and not yet said it closed them. */
export function mayAccept(slot: WorkerSlot): boolean {
  return slot.given.size > 0 && slot.acceptClosed !== true;
}
