import { expect } from 'chai';
import { CANARY_DEFAULTS } from '../lib/observe/canary';
import { emptyTally, type Tally } from '../lib/observe/metrics';
import { CanaryWindow, responsesOf } from '../lib/observe/window';

/** Totals that grow as a test serves: `serve(n, ms, status)`. */
class Totals {
  t: Tally = emptyTally();
  serve(n: number, ms: number, cls: '2xx' | '5xx' = '2xx'): void {
    for (let i = 0; i < n; i++) this.t.latency.record(ms);
    this.t.codes[cls] += n;
  }
  read = (): Tally => {
    const c = emptyTally();
    c.codes = { ...this.t.codes };
    c.latency = this.t.latency.clone();
    return c;
  };
}

describe('observe: canary window', () => {
  it('leaves out what both generations served before the warm-up ended, and says so', () => {
    const next = new Totals();
    const prev = new Totals();
    prev.serve(5_000, 40); // the old generation's history: not in the window
    const w = new CanaryWindow({ next: next.read, prev: prev.read, policy: { ...CANARY_DEFAULTS, warmupMs: 500 } });
    w.begin();
    next.serve(150, 400); // warm-up: a pool connecting, 10x slower
    prev.serve(150, 40);
    w.warm();
    next.serve(400, 40);
    prev.serve(400, 41);
    const v = w.verdict();
    expect(v.result, v.reason).to.equal('pass');
    expect(v.next.responses).to.equal(400);
    expect(v.prev.responses).to.equal(400);
    expect(v.reason).to.match(/in probation \(after a 500 ms warm-up, 150 response\(s\) of the new generation left out\)$/);
  });

  it('without the warm-up the same figures roll back: the window counts from begin', () => {
    const next = new Totals();
    const prev = new Totals();
    const w = new CanaryWindow({ next: next.read, prev: prev.read, policy: CANARY_DEFAULTS });
    w.begin();
    next.serve(150, 400);
    next.serve(100, 40);
    prev.serve(250, 40);
    expect(w.verdict().result).to.equal('fail');
  });

  it('takes what was left out from the caller when the figures came from elsewhere (an upgrade\'s new master)', () => {
    const next = new Totals();
    const prev = new Totals();
    const w = new CanaryWindow({ next: next.read, prev: prev.read, policy: { ...CANARY_DEFAULTS, warmupMs: 500 } });
    w.begin();
    w.warm();
    next.serve(100, 10);
    prev.serve(100, 10);
    expect(w.verdict({ ms: 500, responses: 77 }).reason).to.match(/77 response\(s\) of the new generation left out\)$/);
    expect(w.verdict({ ms: 0, responses: 0 }).reason).to.match(/in probation$/);
    expect(responsesOf(next.read())).to.equal(100);
  });
});
