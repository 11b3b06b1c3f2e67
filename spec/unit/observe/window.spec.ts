import { expect } from 'chai';
import { CANARY_DEFAULTS } from '../../../lib/config/observe';
import { emptyTally, type Tally } from '../../../lib/observe/metrics';
import { CanaryWindow } from '../../../lib/observe/canary';
import { Histogram } from '../../../lib/observe/histogram';

/** Totals that grow as a test serves: `serve(n, ms, status)`; `left` counts the warm-up left out. */
class Totals {
  t: Tally = emptyTally();
  serve(n: number, ms: number, cls: '2xx' | '5xx' = '2xx'): void {
    for (let i = 0; i < n; i++) this.t.latency.record(ms);
    this.t.codes[cls] += n;
  }
  read = (): Tally => {
    const c = emptyTally();
    c.codes = { ...this.t.codes };
    c.latency = new Histogram().merge(this.t.latency);
    c.left = this.t.left;
    return c;
  };
}

describe('observe: canary window', () => {
  it('judges what both generations served between begin and verdict, and says how much warm-up the new one left out', () => {
    const next = new Totals();
    const prev = new Totals();
    prev.serve(5_000, 40); // the old generation's history: not in the window
    next.t.left = 3; // a worker's warm-up before the probation: not this window's
    const w = new CanaryWindow(next.read, prev.read, { ...CANARY_DEFAULTS, warmupMs: 500 });
    w.begin();
    next.t.left += 150; // left out by its workers (never in its codes nor latency)
    next.serve(400, 40);
    prev.serve(400, 41);
    const v = w.verdict();
    expect(v.result, v.reason).to.equal('pass');
    expect(v.reason).to.match(/^5xx 0\.0% \(0 of 400\) vs 0\.0% \(0 of 400\)/);
    expect(v.reason).to.match(/in probation \(after a 500 ms warm-up, 150 response\(s\) of the new generation left out\)$/);
  });

  it('without a warm-up it says nothing of one', () => {
    const next = new Totals();
    const prev = new Totals();
    const w = new CanaryWindow(next.read, prev.read, { ...CANARY_DEFAULTS, warmupMs: 0 });
    w.begin();
    next.serve(100, 10);
    prev.serve(100, 10);
    expect(w.verdict().reason).to.match(/in probation$/);
  });

  it('takes what was left out from the caller when the figures came from elsewhere (an upgrade\'s new master)', () => {
    const next = new Totals();
    const prev = new Totals();
    const w = new CanaryWindow(next.read, prev.read, { ...CANARY_DEFAULTS, warmupMs: 500 });
    w.begin();
    next.serve(100, 10);
    prev.serve(100, 10);
    expect(w.verdict({ ms: 500, responses: 77 }).reason).to.match(/77 response\(s\) of the new generation left out\)$/);
    expect(w.verdict({ ms: 0, responses: 0 }).reason).to.match(/in probation$/);
  });
});
