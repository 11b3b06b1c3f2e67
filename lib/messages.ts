// The messages baton's processes exchange over their IPC channels.
//
// master <-> worker  (the cluster channel): connections arrive with a 'conn' message
//   carrying the accepted socket; the worker says 'ready', 'draining' or 'error'.
// old master <-> new master (the spawn channel, fd 3): see handoff.ts and upgrade.ts.
//
// Every message carries `baton: PROTOCOL`, so a newer baton in a worker (a reload
// loads the app's current node_modules) can still talk to an older master.

export const PROTOCOL = 1;

export type ToWorker =
  | { type: 'conn'; listener: string }
  | { type: 'drain'; reason: string };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'draining'; reason: string }
  | { type: 'error'; message: string };

/** new master -> old master */
export type FromSuccessor =
  | { type: 'forked'; pid: number }
  | { type: 'ready'; pid: number }
  | { type: 'serving'; pid: number }
  | { type: 'error'; message: string };

/** old master -> new master */
export type ToSuccessor =
  | { type: 'go' }
  | { type: 'release' };

export function isBaton(msg: unknown): msg is { type: string } {
  return typeof msg === 'object' && msg !== null && typeof (msg as { baton?: unknown }).baton === 'number'
    && typeof (msg as { type?: unknown }).type === 'string';
}

export type Wire<T> = T & { baton: number };

export function msg<T extends { type: string }>(m: T): Wire<T> {
  return { baton: PROTOCOL, ...m };
}
