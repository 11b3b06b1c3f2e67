// The phases of one hand-over, in one table, as lib/master/states.ts is for the master.
//
//   spawning --spawned--> starting --ready (go sent)--> go --serving--> probation
//   probation --its time is over, a canary to ask--> judging
//   go | probation | judging --nothing (more) to wait for: released to serve alone--> serving
//   serving --handed over in turn, stops, or nobody follows it (baton run)--> released
//   serving --died while the old master drained--> lost (the old master takes service back:
//            its own state, handed-over -> starting, lib/master/states.ts)
//   spawning .. judging --exit, error, readyTimeout, the old master stops--> failed
//   judging --the canary found it worse--> rolled-back (it drains away)
//
// One owner moves it: the attempt that spawns the next master (lib/upgrade/attempt.ts), run by
// the old master or, under `baton run`, by the supervisor. The master being replaced then
// follows the same table on the events the supervisor forwards (RemoteUpgrade,
// lib/supervisor/supervised.ts): it hears every move but 'go' (follow()).
import { StateTable } from './state-table';

export type HandOverPhase = 'spawning' | 'starting' | 'go' | 'probation' | 'judging' | 'serving' | 'released' | 'lost' | 'failed' | 'rolled-back';

export const HAND_OVER: Readonly<Record<HandOverPhase, readonly HandOverPhase[]>> = {
  spawning: ['starting', 'failed'],
  starting: ['go', 'failed'],
  go: ['probation', 'serving', 'failed'],
  probation: ['judging', 'serving', 'failed'],
  judging: ['serving', 'rolled-back', 'failed'],
  serving: ['released', 'lost'],
  released: [],
  lost: [],
  failed: [],
  'rolled-back': [],
};

export class HandOver extends StateTable<HandOverPhase> {
  constructor() {
    super(HAND_OVER, 'spawning', 'hand-over phase');
  }

  /** The upgrade is in progress: the new master does not serve alone yet, and it can still fail. */
  get inProgress(): boolean {
    return HAND_OVER[this.state].includes('failed');
  }

  /** A follower's move to `next`, through 'go' (never forwarded); false (and no move) when `next` is not ahead. */
  follow(next: HandOverPhase): boolean {
    const way: HandOverPhase[] = this.is('starting') && next !== 'failed' ? ['go', next] : [next];
    if (way.some((p, i) => !HAND_OVER[i === 0 ? this.state : 'go'].includes(p))) return false;
    for (const p of way) this.to(p);
    return true;
  }
}
