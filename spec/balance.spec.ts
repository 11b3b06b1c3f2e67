// The fairness control of workers that accept for themselves (lib/pool/balance.ts): pure
// decisions from load reports, with an injected clock.
import { expect } from 'chai';
import { Balancer, EPSILON, SHED_EVERY, SHED_PERSIST, TICK, WINDOW, type Report } from '../lib/pool/balance';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('balance: fairness among workers that accept themselves (unit)', () => {
  it('a keep-alive burst on one worker: it is paused at once, and sheds the excess over its share once that lasted SHED_PERSIST ticks', () => {
    const c = clock();
    const b = new Balancer(c.now);
    const burst: Report[] = [{ id: 1, open: 16, accepted: 16 }, { id: 2, open: 0, accepted: 0 }];
    const d = b.tick(burst);
    expect(d.pause).to.deep.equal([1]);
    expect(d.resume).to.deep.equal([]);
    expect(d.shed).to.deep.equal([]);
    for (let i = 2; i < SHED_PERSIST; i++) {
      c.advance(TICK);
      expect(b.tick(burst).shed).to.deep.equal([]);
    }
    c.advance(TICK);
    expect(b.tick(burst).shed).to.deep.equal([[1, 8]]);
  });

  it('a passing spike over the share (short connections) sheds nothing', () => {
    const c = clock();
    const b = new Balancer(c.now);
    for (let i = 0; i < 5 * SHED_PERSIST; i++) {
      c.advance(TICK);
      const spike = i % SHED_PERSIST === 0;
      expect(b.tick([{ id: 1, open: spike ? 12 : 8, accepted: 0 }, { id: 2, open: 7, accepted: 0 }]).shed).to.deep.equal([]);
    }
  });

  it('sheds at most every SHED_EVERY ms while the excess remains, and resumes once back within its share', () => {
    const c = clock();
    const b = new Balancer(c.now);
    for (let i = 0; i < SHED_PERSIST; i++) b.tick([{ id: 1, open: 12, accepted: 12 }, { id: 2, open: 4, accepted: 4 }]);
    c.advance(SHED_EVERY - 1);
    const again = b.tick([{ id: 1, open: 12, accepted: 12 }, { id: 2, open: 4, accepted: 4 }]);
    expect(again.shed).to.deep.equal([]);
    expect(again.pause).to.deep.equal([]); // already paused
    c.advance(1);
    expect(b.tick([{ id: 1, open: 11, accepted: 12 }, { id: 2, open: 5, accepted: 5 }]).shed).to.deep.equal([[1, 3]]);
    const back = b.tick([{ id: 1, open: 8, accepted: 12 }, { id: 2, open: 8, accepted: 8 }]);
    expect(back.resume).to.deep.equal([1]);
    expect(back.pause).to.deep.equal([]);
  });

  it('a worker starved while others are one over their share: they shed that one each, once it lasted SHED_PERSIST ticks', () => {
    const c = clock();
    const b = new Balancer(c.now);
    // 14 keep-alive connections over 4 workers (cap 4): 5/5/4/0, the fourth serves nothing
    const uneven: Report[] = [{ id: 1, open: 5, accepted: 5 }, { id: 2, open: 5, accepted: 5 }, { id: 3, open: 4, accepted: 4 }, { id: 4, open: 0, accepted: 0 }];
    for (let i = 1; i < SHED_PERSIST; i++) {
      expect(b.tick(uneven).shed).to.deep.equal([]);
      c.advance(TICK);
    }
    expect(b.tick(uneven).shed).to.deep.equal([[1, 1], [2, 1]]);
    // 4/4/4/2: nobody over the share, nothing more to shed
    c.advance(SHED_EVERY);
    for (let i = 0; i < 2 * SHED_PERSIST; i++) {
      c.advance(TICK);
      expect(b.tick([{ id: 1, open: 4, accepted: 5 }, { id: 2, open: 4, accepted: 5 }, { id: 3, open: 4, accepted: 4 }, { id: 4, open: 2, accepted: 2 }]).shed).to.deep.equal([]);
    }
    // one over the share with nobody starved (5/4/4/3) sheds nothing either
    for (let i = 0; i < 2 * SHED_PERSIST; i++) {
      c.advance(TICK);
      expect(b.tick([{ id: 1, open: 5, accepted: 6 }, { id: 2, open: 4, accepted: 5 }, { id: 3, open: 4, accepted: 4 }, { id: 4, open: 3, accepted: 3 }]).shed).to.deep.equal([]);
    }
  });

  it('balanced workers are left alone', () => {
    const b = new Balancer(clock().now);
    for (let i = 0; i < 2 * WINDOW; i++) {
      const d = b.tick([{ id: 1, open: 8, accepted: 10 * i }, { id: 2, open: 8, accepted: 10 * i }, { id: 3, open: 7, accepted: 10 * i }]);
      expect(d).to.deep.equal({ pause: [], resume: [], shed: [] });
    }
  });

  it('fresh connections: a worker that took more than (1 + EPSILON) / n of the recent ones pauses until the window evens out', () => {
    const b = new Balancer(clock().now);
    let a1 = 0;
    let a2 = 0;
    const tick = (d1: number, d2: number): ReturnType<Balancer['tick']> => {
      a1 += d1;
      a2 += d2;
      return b.tick([{ id: 1, open: 0, accepted: a1 }, { id: 2, open: 0, accepted: a2 }]);
    };
    tick(0, 0); // the first report sets the baseline
    const first = tick(30, 10);
    expect(first.pause).to.deep.equal([1]);
    // while paused, worker 2 takes them all; once the window is even again worker 1 resumes
    let resumed = false;
    for (let i = 0; i < WINDOW && !resumed; i++) resumed = tick(0, 20).resume.includes(1);
    expect(resumed).to.equal(true);
  });

  it('a share just under (1 + EPSILON) / n is not paused; too few connections in the window decide nothing', () => {
    const b = new Balancer(clock().now);
    b.tick([{ id: 1, open: 0, accepted: 0 }, { id: 2, open: 0, accepted: 0 }]);
    const share = (1 + EPSILON) / 2 - 0.01;
    const n = 1000;
    const d = b.tick([{ id: 1, open: 0, accepted: Math.floor(share * n) }, { id: 2, open: 0, accepted: n - Math.floor(share * n) }]);
    expect(d.pause).to.deep.equal([]);
    const few = new Balancer(clock().now);
    few.tick([{ id: 1, open: 0, accepted: 0 }, { id: 2, open: 0, accepted: 0 }]);
    expect(few.tick([{ id: 1, open: 0, accepted: 7 }, { id: 2, open: 0, accepted: 0 }]).pause).to.deep.equal([]);
  });

  it('never pauses every worker: a lone worker always accepts, and of workers all over their share the least busy goes on', () => {
    const b = new Balancer(clock().now);
    expect(b.tick([{ id: 1, open: 100, accepted: 100 }]).pause).to.deep.equal([]);
    // three workers whose open counts all exceed the share cannot happen, but rate and
    // open can disagree: worker 1 is over on open connections, worker 2 on the rate
    const m = new Balancer(clock().now);
    m.tick([{ id: 1, open: 0, accepted: 0 }, { id: 2, open: 0, accepted: 0 }]);
    const d = m.tick([{ id: 1, open: 9, accepted: 5 }, { id: 2, open: 1, accepted: 50 }]);
    expect(d.pause.length).to.be.lessThan(2);
  });

  it('a worker that leaves is forgotten; one that comes back starts from a clean history', () => {
    const b = new Balancer(clock().now);
    const r: Report[] = [{ id: 1, open: 10, accepted: 10 }, { id: 2, open: 0, accepted: 0 }];
    expect(b.tick(r).pause).to.deep.equal([1]);
    expect(b.tick([{ id: 2, open: 0, accepted: 0 }])).to.deep.equal({ pause: [], resume: [], shed: [] });
    // worker 1 is new again: not "resumed" (it never was paused in this history)
    const d = b.tick([{ id: 1, open: 0, accepted: 10 }, { id: 2, open: 0, accepted: 0 }]);
    expect(d.resume).to.deep.equal([]);
    expect(d.pause).to.deep.equal([]);
  });
});
