// What an upgrade attempt (lib/upgrade/attempt.ts) is given and what it reports: its options
// and its events, which the master follows (lib/master/upgrades.ts) and `baton run` forwards
// to the master it replaces (lib/supervisor/bridge.ts).
//
// Why apart: the supervisor, the bridge and the master read these without the attempt itself.
import type { spawn as spawnChild } from 'node:child_process';
import type { ListenerSpec } from '../config/types';
import type { Logger } from '../log/log';
import type { killTree } from '../os/proctree';
import type { Relaunch } from '../os/relaunch';
import type { Judge } from '../observe/canary';

export interface UpgradeEvents {
  started: [pid: number];
  'worker-ready': [pid: number, ready: number, total: number];
  /** What the new master runs (release, Node, generation: a HistorySide as it sent it), once it serves. */
  side: [pid: number, side: unknown];
  /** The new master serves beside this one, on probation: this one sheds part of its keep-alive connections to it. */
  probation: [pid: number];
  /** The new master serves: the old one must stop accepting and drain. `dropped`: the listeners it did not adopt. */
  serving: [pid: number, dropped: string[]];
  failed: [reason: string];
  /** The new master's tally at the end of probation (a TallyData), before it is judged: `baton run` forwards it to the old master. */
  tally: [pid: number, tally: unknown];
  /** After 'serving': the new master died while it was the one serving. */
  lost: [reason: string];
  /** After 'serving': the new master handed over in turn, or stops; nothing to watch any more. */
  'moved-on': [what: 'handed-over' | 'stopping'];
}

/** A listening socket to hand to the new master: a Listener, or a handle a supervisor holds. */
export interface HandoffSocket {
  spec: ListenerSpec;
  external?: boolean;
  /** An fd number or a handle object, as spawn() takes them in stdio. */
  handoffFd(): number | object;
}

export interface UpgradeOptions {
  relaunch: Relaunch;
  listeners: HandoffSocket[];
  generation: number;
  workers: number | undefined;
  readyTimeout: number;
  /** ms the new master serves beside the old one before the old one hands over. */
  probation?: number;
  pidFile: string | undefined;
  /** The master being replaced (default: this process); undefined when there is none. */
  oldPid?: number | undefined;
  /** A supervisor keeps talking to the new master: the channel stays open. */
  keepChannel?: boolean;
  /** Environment of the new master over this process's (undefined removes a variable). */
  env?: Record<string, string | undefined>;
  log: Logger;
  /** What the log calls it: a supervisor replacing a master that died restarts it (default 'upgrade'). */
  what?: 'upgrade' | 'restart';
  /** The `metrics` / `health` listening sockets to pass on after the listeners (lib/observe/endpoints.ts). */
  endpoints?: Array<{ key: string; fd: number }>;
  /** The canary, judged at the end of probation (under `baton run`, the supervisor's asks the old master). */
  judge?: Judge;
  /** The new master's drainTimeout: a rolled-back one is killed if still there ROLLBACK_GRACE ms later (default 30 s). */
  drainTimeout?: number;
  /** Unit specs give fakes: how the new master is spawned, and its tree killed. */
  spawn?: typeof spawnChild;
  killTree?: typeof killTree;
}
