// A draining worker that overstays is SIGKILLed (lib/pool/stragglers.ts): drainTimeout, then
// exitTimeout, then a 2 s grace after the drain message; one that left in time is not. Fake
// timers; the "worker" records the signals it is sent.
import { expect } from 'chai';
import * as sinon from 'sinon';
import { Stragglers } from '../../../lib/pool/stragglers';
import type { WorkerSlot } from '../../../lib/pool/slot';
import { Logger } from '../../../lib/log/log';

/** A slot whose process records the signals sent to it. */
function slot(pid: number): WorkerSlot & { signals: string[] } {
  const signals: string[] = [];
  return { pid, signals, worker: { process: { kill: (sig: string) => signals.push(sig) } } } as unknown as WorkerSlot & { signals: string[] };
}

describe('stragglers: a draining worker that overstays is killed (unit)', () => {
  let clock: sinon.SinonFakeTimers;
  const log = new Logger('master', 1, 'silent');
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => clock.restore());

  it('one worker: SIGKILL at drainTimeout + exitTimeout + 2 s if still there, not a millisecond before', () => {
    const s = new Stragglers({ drainTimeout: 1_000, exitTimeout: 500 }, log);
    expect(s.after).to.equal(3_500);
    const stays = slot(1);
    const leaves = slot(2);
    let left = false;
    s.watchWorker(stays, () => true);
    s.watchWorker(leaves, () => !left);
    clock.tick(3_499);
    expect(stays.signals).to.deep.equal([]);
    left = true; // it exited meanwhile
    clock.tick(1);
    expect(stays.signals).to.deep.equal(['SIGKILL']);
    expect(leaves.signals).to.deep.equal([]);
  });

  it('a generation: every worker still there at the deadline is killed and counted; stop() (it finished) kills nobody', () => {
    const s = new Stragglers({ drainTimeout: 1_000, exitTimeout: 0 }, log);
    expect(s.after, 'a grace of 2 s').to.equal(3_000);
    const slots = new Map([[1, slot(11)], [2, slot(12)]]);
    let killed = 0;
    s.watchAll(4, slots, () => killed++);
    slots.delete(1); // exited in time
    clock.tick(2_999);
    expect(killed).to.equal(0);
    clock.tick(1);
    expect(killed).to.equal(1);
    expect((slots.get(2) as WorkerSlot & { signals: string[] }).signals).to.deep.equal(['SIGKILL']);

    const calm = new Stragglers({ drainTimeout: 1_000, exitTimeout: 0 }, log);
    const other = new Map([[1, slot(21)]]);
    calm.watchAll(5, other, () => killed++);
    calm.stop();
    clock.tick(10_000);
    expect((other.get(1) as WorkerSlot & { signals: string[] }).signals).to.deep.equal([]);
    expect(killed).to.equal(1);
  });
});
