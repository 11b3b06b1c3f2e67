// The supervisor's states (`baton run`, lib/supervisor/supervisor.ts), in one table, as
// lib/master/states.ts is for a master:
//
//   starting  --the first master called baton's listen() (said anything)--> listening
//   starting | listening --it serves--> serving
//   serving   --the serving master died: a new one starts on the held sockets--> restarting
//             (during an upgrade, none: the upgrade's new master serves, or its failure restarts)
//   restarting --a new master (restarted, or an upgrade's) serves--> serving
//   any but stopping --TERM/INT/QUIT, the serving master stopped itself, no listen() in time--> stopping
//
// A first master that dies before it serves ends the supervisor (exit 1) from starting or
// listening. An upgrade in progress is not a state here: it is its attempt's phase
// (lib/upgrade/phases.ts).

export type SupervisorState = 'starting' | 'listening' | 'serving' | 'restarting' | 'stopping';

export const SUPERVISOR: Readonly<Record<SupervisorState, readonly SupervisorState[]>> = {
  starting: ['listening', 'serving', 'stopping'],
  listening: ['serving', 'stopping'],
  serving: ['restarting', 'stopping'],
  restarting: ['serving', 'stopping'],
  stopping: [],
};
