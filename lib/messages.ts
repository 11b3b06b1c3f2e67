// The messages baton's processes exchange over their IPC channels.
//
// master <-> worker  (the cluster channel): a worker accepts on duplicates of the TCP
//   sockets ('handle', then 'accept'), and reports its 'load'; connections the master
//   accepted itself (UNIX sockets) arrive with a 'conn' message carrying the socket; the
//   worker says 'ready', 'draining' or 'error'.
// old master <-> new master (the spawn channel, fd 3): see lib/upgrade/handoff.ts, attempt.ts
//   (the old master's side) and predecessor.ts (the new master's side).
// master <-> supervisor (`baton run`): see lib/supervisor/.
//
// Every message carries `baton: PROTOCOL`, so a newer baton in a worker (a reload
// loads the app's current node_modules) can still talk to an older master.

import type { ListenerSpec } from './config/types';
import type { LogRecord } from './log/log';

export const PROTOCOL = 1;

export type ToWorker =
  | { type: 'conn'; listener: string }
  /** A duplicate of a TCP listening socket (the handle travels with it) to accept on (lib/worker/acceptor.ts). */
  | { type: 'handle'; listener: string; backlog: number }
  /** Its generation takes new connections (true) or not for now (false): lib/pool/accepting.ts. */
  | { type: 'accept'; on: boolean }
  /** Accept while holding fewer connections than `limit` (the share, lib/pool/balance.ts). */
  | { type: 'share'; limit: number }
  /** Close this many keep-alive connections after their current request (fairness, probation); `http2`: HTTP/2 sessions too (probation). */
  | { type: 'shed'; connections: number; http2?: boolean }
  | { type: 'drain'; reason: string }
  | { type: 'signal'; signal: string }
  /** The master has a 'log' listener now: send your log records (worker-records.ts). */
  | { type: 'log-forward' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'beat'; connections: number; requests: number; rss: number }
  /**
   * Connections it holds, whether it accepts now, times it paused at its share: every few ms
   * when that changed, and at once when it pauses (lib/worker/acceptor.ts).
   */
  | { type: 'load'; open: number; accepting: boolean; pauses: number }
  | { type: 'draining'; reason: string }
  /** Draining: its duplicates of the sockets are closed, it accepts nothing more. */
  | { type: 'accept-closed' }
  | { type: 'error'; message: string }
  /** One of the worker's log records, for the master's 'log' event (worker-records.ts). */
  | { type: 'log'; record: LogRecord }
  /** Draining ended at drainTimeout with connections still open: they were closed by force. */
  | { type: 'drain-forced'; connections: number; upgraded: number }
  /**
   * Its responses and their latency since its last report (lib/worker/counting.ts): a
   * RequestDelta of lib/observe/request-stats.ts, typed unknown because the protocol ranks
   * below observe/ (spec/repo/layout.spec.ts); the master checks it with isRequestDelta before it
   * reads a field (lib/observe/observer.ts), as it would anything from another process.
   */
  | { type: 'requests'; delta: unknown };

/** new master -> old master */
export type FromSuccessor =
  | { type: 'forked'; pid: number }
  | { type: 'worker-ready'; pid: number; ready: number; total: number }
  | { type: 'ready'; pid: number }
  /** `dropped`: the listeners this master did not adopt (the old master removes their socket files); `side`: what it runs, for the history (lib/observe/history.ts HistorySide). */
  | { type: 'serving'; pid: number; dropped?: string[]; side?: unknown }
  | { type: 'error'; message: string }
  /** After it took over: it handed over to a master of its own, or it stops. */
  | { type: 'handed-over'; pid: number }
  | { type: 'stopping' }
  /** The answer to 'report': its first generation's responses so far (lib/upgrade/canary.ts TallyData). */
  | { type: 'tally'; tally: unknown };

/** old master -> new master */
export type ToSuccessor =
  | { type: 'go' }
  | { type: 'release' }
  /** Its counters (lib/observe/registry.ts snapshot), again and again while it drains: the latest counts (lib/observe/observation.ts). */
  | { type: 'totals'; snapshot: unknown }
  /** The probation is over: send your first generation's tally (the canary, lib/upgrade/canary.ts). */
  | { type: 'report' }
  /** The canary failed: drain like a stopping master, but leave the socket files and the pid file to the old one. */
  | { type: 'roll-back'; reason: string };

/** master -> supervisor (`baton run`) */
export type FromMaster =
  /** A duplicate of a listening socket (the handle travels with the message) for the supervisor to hold. */
  | { type: 'hold'; spec: ListenerSpec; external?: boolean }
  /**
   * What the supervisor needs to start the next master. `serving`: false while the first
   * master is still starting (absent from older masters, which sent it only once serving).
   */
  | { type: 'state'; pidFile: string | undefined; readyTimeout: number; nextGeneration: number; workers: number; scaled: boolean; probation?: number; serving?: boolean; drainTimeout?: number }
  | { type: 'upgrade-request' }
  /** The old master's verdict on an 'upgrade-tally' (lib/observe/canary.ts Verdict), for the supervisor's attempt. */
  | { type: 'upgrade-verdict'; pid: number; verdict: unknown }
  /** The app called listen(): a baton master runs (the supervisor stops waiting for it). */
  | { type: 'hello'; readyTimeout: number };

/** supervisor -> master: the progress of an upgrade the supervisor runs, and stop. */
export type ToMaster =
  | { type: 'upgrade-started'; pid: number }
  | { type: 'upgrade-worker-ready'; pid: number; ready: number; total: number }
  | { type: 'upgrade-probation'; pid: number }
  | { type: 'upgrade-serving'; pid: number; dropped?: string[] }
  /** The new master's tally at the end of probation, for the old master to judge (lib/upgrade/canary.ts). */
  | { type: 'upgrade-tally'; pid: number; tally: unknown }
  /** What the new master runs (its release, Node, generation), for the old master's history. */
  | { type: 'upgrade-side'; pid: number; side: unknown }
  | { type: 'upgrade-failed'; reason: string }
  | { type: 'upgrade-refused'; reason: string }
  | { type: 'stop' };

export function isBaton(msg: unknown): msg is { type: string } {
  return typeof msg === 'object' && msg !== null && typeof (msg as { baton?: unknown }).baton === 'number'
    && typeof (msg as { type?: unknown }).type === 'string';
}

export function msg<T extends { type: string }>(m: T): T & { baton: number } {
  return { baton: PROTOCOL, ...m };
}
