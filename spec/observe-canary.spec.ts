import { expect } from 'chai';
import { CANARY_DEFAULTS, LATENCY_FLOOR_MS, judge, millis, percent } from '../lib/observe/canary';
import { emptyTally, type Tally } from '../lib/observe/metrics';

/** A window: `ok` responses of 2xx and `errors` of 5xx, all taking `ms`. */
function tally(ok: number, errors: number, ms: number, slow?: { n: number; ms: number }): Tally {
  const t = emptyTally();
  t.codes['2xx'] = ok;
  t.codes['5xx'] = errors;
  const fast = ok + errors - (slow?.n ?? 0);
  for (let i = 0; i < fast; i++) t.latency.record(ms);
  for (let i = 0; i < (slow?.n ?? 0); i++) t.latency.record(slow?.ms as number);
  return t;
}

describe('observe: canary judge', () => {
  it('fails a release with a 5xx share 21.4 points above the old one, in the exact words of the issue', () => {
    const v = judge(tally(411, 112, 10), tally(611, 0, 10));
    expect(v.result).to.equal('fail');
    expect(v.reason).to.equal('5xx 21.4% (112 of 523) vs 0.0% (0 of 611) in probation');
    expect(v.next).to.deep.include({ responses: 523, errors: 112 });
  });

  it('fails a release whose p99 is 5x the old one, naming the figures', () => {
    const v = judge(tally(500, 0, 400), tally(500, 0, 80));
    expect(v.result).to.equal('fail');
    expect(v.reason).to.match(/^p99 \d+ ms vs \d+ ms \(\d+\.\dx, limit 3x\) in probation$/);
    const [, a, b, r] = /^p99 (\d+) ms vs (\d+) ms \((\d+\.\d)x/.exec(v.reason) as RegExpExecArray;
    expect(Number(a)).to.be.within(360, 400); // 400 ms lies in the (350, 400] bucket
    expect(Number(b)).to.be.within(70, 80);
    expect(Number(r)).to.be.within(4.5, 5.7);
  });

  it('names both figures when both rules fail', () => {
    const v = judge(tally(400, 123, 400), tally(611, 0, 80));
    expect(v.result).to.equal('fail');
    expect(v.reason).to.match(/^5xx 23\.5% \(123 of 523\) vs 0\.0% \(0 of 611\) in probation; p99 .* \(.*x, limit 3x\) in probation$/);
  });

  it('passes a healthy release, saying what it saw', () => {
    const v = judge(tally(520, 3, 12), tally(600, 2, 11));
    expect(v.result).to.equal('pass');
    expect(v.reason).to.match(/^5xx 0\.6% \(3 of 523\) vs 0\.3% \(2 of 602\), p99 \d+ ms vs \d+ ms in probation$/);
  });

  it('passes at exactly the limits (it must exceed them)', () => {
    // 5xx: 10 % vs 5 %: an excess of exactly 0.05
    expect(judge(tally(90, 10, 10), tally(95, 5, 10)).result).to.equal('pass');
    expect(judge(tally(89, 11, 10), tally(95, 5, 10)).result).to.equal('fail');
    // latency: 2.5x passes a limit of 3x, 3.5x does not
    expect(judge(tally(100, 0, 250), tally(100, 0, 100)).result).to.equal('pass');
    expect(judge(tally(100, 0, 350), tally(100, 0, 100)).result).to.equal('fail');
  });

  it('judges fewer than minRequests on crashes alone: not-enough', () => {
    const v = judge(tally(10, 9, 500), tally(600, 0, 10));
    expect(v.result).to.equal('not-enough');
    expect(v.reason).to.equal('19 response(s) in probation, fewer than minRequests 20: judged on crashes alone');
    expect(judge(tally(0, 0, 1), tally(0, 0, 1)).result).to.equal('not-enough');
    expect(judge(tally(15, 5, 10), tally(600, 0, 10)).result, 'exactly minRequests is judged').to.equal('fail');
  });

  it('holds the new share against maxErrorRate alone when the old generation served too few to compare', () => {
    const fail = judge(tally(90, 10, 10), tally(3, 0, 10));
    expect(fail.result).to.equal('fail');
    expect(fail.reason).to.equal('5xx 10.0% (10 of 100) in probation, above maxErrorRate 5.0% (the old generation served 3, too few to compare with)');
    const pass = judge(tally(97, 3, 500), tally(0, 0, 1));
    expect(pass.result, 'no latency baseline: latency not judged').to.equal('pass');
    expect(pass.reason).to.match(/^5xx 3\.0% \(3 of 100\), p99 \d+ ms, not compared \(the old generation served 0\) in probation$/);
  });

  it('does not fail a few slow cold-start requests against a sub-millisecond old p99 (the floor)', () => {
    // the new generation's first requests take 12 ms (JIT, caches), the old one answers in 0.4 ms
    const v = judge(tally(500, 0, 0.5, { n: 8, ms: 12 }), tally(500, 0, 0.4));
    expect(v.result, v.reason).to.equal('pass');
    // but well above the floor it fails, and says the floor was used
    const slow = judge(tally(500, 0, 0.5, { n: 8, ms: 90 }), tally(500, 0, 0.4));
    expect(slow.result).to.equal('fail');
    expect(slow.reason).to.match(/^p99 \d+ ms vs 0\.\d+ ms \(\d+\.\dx, limit 3x, of at least 20 ms\) in probation$/);
    expect(LATENCY_FLOOR_MS).to.equal(20);
    expect(judge(tally(500, 0, 0.5, { n: 8, ms: 12 }), tally(500, 0, 0.4), { ...CANARY_DEFAULTS, latencyFloorMs: 1 }).result).to.equal('fail');
  });

  it('does not judge latency when maxLatencyRatio is 0', () => {
    expect(judge(tally(500, 0, 5000), tally(500, 0, 5), { ...CANARY_DEFAULTS, maxLatencyRatio: 0 }).result).to.equal('pass');
  });

  it('honours its policy', () => {
    expect(judge(tally(80, 20, 10), tally(100, 0, 10), { ...CANARY_DEFAULTS, maxErrorRate: 0.25 }).result).to.equal('pass');
    expect(judge(tally(8, 2, 10), tally(100, 0, 10), { ...CANARY_DEFAULTS, minRequests: 5 }).result).to.equal('fail');
    expect(judge(tally(100, 0, 200), tally(100, 0, 100), { ...CANARY_DEFAULTS, maxLatencyRatio: 1.5 }).result).to.equal('fail');
  });

  it('formats its figures', () => {
    expect(percent(0.2141)).to.equal('21.4%');
    expect(percent(0)).to.equal('0.0%');
    expect(millis(412.4)).to.equal('412 ms');
    expect(millis(8.46)).to.equal('8.5 ms');
    expect(millis(0.423)).to.equal('0.42 ms');
  });
});
