// The master's states, and what it does with each request in each of them: one table
// instead of checks spread over the class (lib/master/master.ts).
//
//   starting ----first generation ready (or the old master says go)----> serving
//   serving  ----the new master serves (upgrade)------------------------> handed-over
//   handed-over --the new master died while this one drained-----------> starting (take-back)
//   starting ----the take-back could not start a generation------------> handed-over
//   starting | serving ----stop (signal, control socket, supervisor)----> stopping
//   handed-over | stopping: a stop drains what is left and exits
//
// Besides its state, the master is busy with at most one change: a reload (a new
// generation on probation) or an upgrade (a new master).
import type { Logger } from '../log/log';
import type { Outcome } from '../control/commands';
import { StateTable } from '../upgrade/state-table';

export type MasterState = 'starting' | 'serving' | 'handed-over' | 'stopping';

export const TRANSITIONS: Readonly<Record<MasterState, readonly MasterState[]>> = {
  starting: ['serving', 'handed-over', 'stopping'],
  serving: ['handed-over', 'stopping'],
  'handed-over': ['starting'],
  stopping: [],
};

/** The change in progress, if any. */
export interface Busy {
  /** The generation a reload is starting. */
  reloading?: number;
  /** An upgrade is running (`pid`: its new master, once spawned). */
  upgrading?: { pid: number | undefined };
}

export type Request = 'reload' | 'upgrade' | 'scale';

/** What to do with a request: run it, queue it until start-up completes, or refuse it and why. */
export type Decision = { run: true } | { queue: true } | { refuse: string };

const BY_STATE: Readonly<Record<Request, Partial<Record<MasterState, 'queue' | ((s: MasterState) => string)>>>> = {
  reload: { starting: 'queue', 'handed-over': (s) => `this master is ${s}`, stopping: (s) => `this master is ${s}` },
  upgrade: {
    starting: 'queue',
    'handed-over': () => 'this master already handed over to a new master; signal that one (see the pid file)',
    stopping: () => 'the server is stopping',
  },
  scale: { 'handed-over': (s) => `this master is ${s}`, stopping: (s) => `this master is ${s}` },
};

/** `workers`: what a scale asks for. */
export function decide(what: Request, state: MasterState, busy: Busy, workers = 1): Decision {
  const rule = BY_STATE[what][state];
  if (rule === 'queue') return { queue: true };
  if (rule !== undefined) return { refuse: rule(state) };
  if (what === 'scale') {
    if (!Number.isInteger(workers) || workers < 1) return { refuse: `${workers} workers: at least 1 worker is needed` };
    return workers > 1024 ? { refuse: `${workers} workers: at most 1024` } : { run: true };
  }
  const reload = busy.reloading !== undefined ? `a reload is in progress (generation ${busy.reloading})` : undefined;
  const upgrade = busy.upgrading !== undefined ? `an upgrade is in progress (new master ${busy.upgrading.pid})` : undefined;
  const refuse = what === 'reload' ? reload ?? upgrade : upgrade ?? reload;
  return refuse !== undefined ? { refuse } : { run: true };
}

/** The master's state, moved only along TRANSITIONS (a move off the table is a bug in baton), and the requests it queued while starting. */
export class States extends StateTable<MasterState> {
  private queued = new Set<'upgrade' | 'reload'>();

  /** @param busy the change in progress, read when a request comes */
  constructor(private readonly log: Logger, private readonly busy: () => Busy) {
    super(TRANSITIONS, 'starting', 'master state');
  }

  /** Undefined: run `what` now; else the Outcome of refusing it, or of queueing it until start-up completes. */
  gate(what: Request, workers?: number): Outcome | undefined {
    const d = decide(what, this.state, this.busy(), workers);
    if ('run' in d) return undefined;
    if ('refuse' in d) {
      this.log.warn(`${what}-refused`, `${what} refused: ${d.refuse}`);
      return { ok: false, reason: d.refuse };
    }
    this.queued.add(what as 'upgrade' | 'reload');
    this.log.info(`${what}-queued`, `${what} requested while starting: it runs once this generation is ready`);
    return { ok: false, reason: 'queued until start-up completes' };
  }

  /** What was queued while starting (once: the queue is emptied). */
  takeQueued(): Array<'upgrade' | 'reload'> {
    const next = [...this.queued];
    this.queued.clear();
    return next;
  }

  /** A master that handed over or stops is on its way out: it drains and exits. */
  get leaving(): boolean {
    return this.is('handed-over', 'stopping');
  }
}
