// Fairness among workers that accept themselves (lib/pool/balance.ts): the share each worker
// accepts under, and who sheds keep-alive connections; pure decisions from load reports, with
// an injected clock.
import { expect } from 'chai';
import { NO_LIMIT, SHED_EVERY, SHED_PERSIST, Shedding, TICK, shareOf, type Report } from '../../../lib/pool/balance';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function reports(...open: number[]): Report[] {
  return open.map((o, i) => ({ id: i + 1, open: o }));
}

/** Which workers accept under `share` (a worker accepts while it holds fewer). */
function accepting(rs: Report[], share: number): number[] {
  return rs.filter((r) => r.open < share).map((r) => r.id);
}

describe('balance: the share and shedding among workers that accept themselves (unit)', () => {
  it('the share is the mean rounded up: a worker holding it stops, one under it accepts', () => {
    expect(shareOf(reports(16, 0))).to.equal(8);
    expect(accepting(reports(16, 0), shareOf(reports(16, 0)))).to.deep.equal([2]);
    expect(shareOf(reports(5, 4, 4))).to.equal(5);
    expect(accepting(reports(5, 4, 4), 5)).to.deep.equal([2, 3]);
  });

  it('when every worker holds the mean (each would be paused), the least busy keeps accepting, not the busiest', () => {
    // 3/3: everyone at the mean; the share grows by one so that they all go on
    expect(shareOf(reports(3, 3))).to.equal(4);
    expect(shareOf(reports(0, 0, 0, 0)), 'an idle generation accepts').to.equal(1);
    // 10/2: the share lets the least busy accept and stops the busiest (keeping the busiest
    // accepting instead would give a share of 11: both accept, the burst stays where it landed)
    const rs = reports(10, 2);
    expect(accepting(rs, shareOf(rs))).to.deep.equal([2]);
    // every set of reports: the least busy accepts, and nobody over the mean does
    for (const open of [[0, 9], [7, 7, 7], [1, 2, 3, 50], [13, 12, 12, 13], [25, 24]]) {
      const r = reports(...open);
      const share = shareOf(r);
      const least = r.reduce((a, b) => (b.open < a.open ? b : a));
      expect(accepting(r, share), `${open.join('/')}: share ${share}`).to.include(least.id);
      for (const x of r) if (x.open > Math.ceil(open.reduce((a, b) => a + b, 0) / open.length)) expect(accepting(r, share)).to.not.include(x.id);
    }
  });

  it('a lone worker, or none, has no share', () => {
    expect(shareOf(reports(100))).to.equal(NO_LIMIT);
    expect(shareOf([])).to.equal(NO_LIMIT);
  });

  it('a burst spread step by step: each worker stops at the share, reports, and the share grows; 50 onto 4 land 13/13/12/12', () => {
    const open = [0, 0, 0, 0];
    // worst case: worker 1 always runs first and takes whatever it may
    for (let step = 0, left = 50; left > 0 && step < 100; step++) {
      const share = shareOf(reports(...open));
      for (let w = 0; w < open.length && left > 0; w++) {
        while ((open[w] as number) < share && left > 0) {
          open[w] = (open[w] as number) + 1;
          left--;
        }
      }
    }
    expect(open.reduce((a, b) => a + b, 0)).to.equal(50);
    expect(Math.max(...open)).to.equal(13);
    expect(Math.min(...open)).to.equal(12);
  });

  it('keep-alive connections held unevenly: the worker over the mean sheds the excess once that lasted SHED_PERSIST ticks', () => {
    const c = clock();
    const s = new Shedding(c.now);
    const burst = reports(16, 0);
    for (let i = 1; i < SHED_PERSIST; i++) {
      expect(s.tick(burst)).to.deep.equal([]);
      c.advance(TICK);
    }
    expect(s.tick(burst)).to.deep.equal([[1, 8]]);
  });

  it('a passing spike over the mean (short connections) sheds nothing', () => {
    const c = clock();
    const s = new Shedding(c.now);
    for (let i = 0; i < 5 * SHED_PERSIST; i++) {
      c.advance(TICK);
      const spike = i % SHED_PERSIST === 0;
      expect(s.tick(reports(spike ? 12 : 8, 7))).to.deep.equal([]);
    }
  });

  it('sheds at most every SHED_EVERY ms while the excess remains', () => {
    const c = clock();
    const s = new Shedding(c.now);
    for (let i = 0; i < SHED_PERSIST; i++) s.tick(reports(12, 4));
    c.advance(SHED_EVERY - 1);
    expect(s.tick(reports(12, 4))).to.deep.equal([]);
    c.advance(1);
    expect(s.tick(reports(11, 5))).to.deep.equal([[1, 3]]);
  });

  it('a worker starved while others are one over the mean: they shed one each, once it lasted SHED_PERSIST ticks', () => {
    const c = clock();
    const s = new Shedding(c.now);
    // 14 keep-alive connections over 4 workers (mean 4): 5/5/4/0, the fourth serves nothing
    const uneven = reports(5, 5, 4, 0);
    for (let i = 1; i < SHED_PERSIST; i++) {
      expect(s.tick(uneven)).to.deep.equal([]);
      c.advance(TICK);
    }
    expect(s.tick(uneven)).to.deep.equal([[1, 1], [2, 1]]);
    c.advance(SHED_EVERY);
    for (let i = 0; i < 2 * SHED_PERSIST; i++) {
      c.advance(TICK);
      expect(s.tick(reports(4, 4, 4, 2)), '4/4/4/2: nobody over the mean').to.deep.equal([]);
    }
    for (let i = 0; i < 2 * SHED_PERSIST; i++) {
      c.advance(TICK);
      expect(s.tick(reports(5, 4, 4, 3)), '5/4/4/3: one over, nobody starved').to.deep.equal([]);
    }
  });

  it('balanced workers are left alone; a worker that leaves is forgotten and starts from a clean history', () => {
    const c = clock();
    const s = new Shedding(c.now);
    for (let i = 0; i < 4 * SHED_PERSIST; i++) expect(s.tick(reports(8, 8, 7))).to.deep.equal([]);
    for (let i = 0; i < SHED_PERSIST - 1; i++) s.tick(reports(10, 0));
    expect(s.tick([{ id: 2, open: 0 }]), 'worker 1 left').to.deep.equal([]);
    c.advance(SHED_EVERY);
    // worker 1 again: its count of ticks over starts from zero
    expect(s.tick(reports(10, 0))).to.deep.equal([]);
  });
});
