import { expect } from 'chai';
import { CANARY_DEFAULTS } from '../../../lib/config/observe';
import { LATENCY_FLOOR_MS, judge, millis, percent } from '../../../lib/observe/canary';
import { emptyTally, type Tally } from '../../../lib/observe/metrics';
import { tally } from '../../support/fakes/tally';

/** A deterministic generator (mulberry32), so a statistical check gives the same answer every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` responses drawn from one app: latency log-normal around `ms` (a long right tail), 5xx with probability `errors`. */
function sample(rnd: () => number, n: number, ms: number, errors: number): Tally {
  const t = emptyTally();
  for (let i = 0; i < n; i++) {
    const gauss = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    t.latency.record(ms * Math.exp(0.6 * gauss));
    t.codes[rnd() < errors ? '5xx' : '2xx']++;
  }
  return t;
}

describe('observe: canary judge', () => {
  it('fails a release with a 5xx share 21.4 points above the old one, naming the figures and what the sample proves', () => {
    const v = judge(tally(411, 112, 10), tally(611, 0, 10));
    expect(v.result).to.equal('fail');
    expect(v.reason).to.equal('5xx 21.4% (112 of 523) vs 0.0% (0 of 611): an excess of at least 16.7% (99% confidence), above maxErrorRate 5.0% in probation');
  });

  it('fails a release 5x slower, bound against bound, naming the quantile that shows it', () => {
    const v = judge(tally(500, 0, 400), tally(500, 0, 80));
    expect(v.result).to.equal('fail');
    expect(v.reason).to.match(/^p(50|75|90) at least \d+ ms vs at most \d+ ms \(\d+\.\dx, limit 3x, 99% confidence\) in probation$/);
    const [, a, b] = /at least (\d+) ms vs at most (\d+) ms/.exec(v.reason) as RegExpExecArray;
    expect(Number(a)).to.be.within(351, 400); // 400 ms lies in the (350, 400] bucket
    expect(Number(b)).to.be.within(71, 80);
  });

  it('judges the body, not the tail: slow on 3 % of its requests passes (a new process\'s own tail under load), on 20 % it fails at p90', () => {
    const tail = judge(tally(1_000, 0, 10, { n: 30, ms: 400 }), tally(1_000, 0, 10));
    expect(tail.result, tail.reason).to.equal('pass');
    const tenth = judge(tally(1_000, 0, 10, { n: 200, ms: 400 }), tally(1_000, 0, 10));
    expect(tenth.result).to.equal('fail');
    expect(tenth.reason).to.match(/^p90 at least \d+ ms vs at most \d+\.\d ms \(\d+\.\dx, limit 3x, of at least 20 ms, 99% confidence\) in probation$/);
  });

  it('names both figures when both rules fail', () => {
    const v = judge(tally(400, 123, 400), tally(611, 0, 80));
    expect(v.result).to.equal('fail');
    expect(v.reason).to.match(/^5xx 23\.5% \(123 of 523\) vs 0\.0% \(0 of 611\): an excess of at least \d+\.\d% .*; p\d+ at least .* \(.*x, limit 3x, 99% confidence\) in probation$/);
  });

  it('passes a healthy release, saying what it saw', () => {
    const v = judge(tally(520, 3, 12), tally(600, 2, 11));
    expect(v.result).to.equal('pass');
    expect(v.reason).to.match(/^5xx 0\.6% \(3 of 523\) vs 0\.3% \(2 of 602\), p99 \d+ ms vs \d+ ms in probation$/);
  });

  it('rolls back only on an excess the sample shows: 30 % of 40 against none of 30 passes and says so; of 100 against 100 it fails', () => {
    const small = judge(tally(28, 12, 10), tally(30, 0, 10));
    expect(small.result).to.equal('pass');
    expect(small.reason).to.match(/^5xx 30\.0% \(12 of 40\) vs 0\.0% \(0 of 30\) \(not shown to exceed maxErrorRate 5\.0% with 99% confidence\)/);
    expect(judge(tally(70, 30, 10), tally(100, 0, 10)).result).to.equal('fail');
    // 10 % against 5 %: an excess of 5 points is within maxErrorRate at any size; 13 % of 10,000 shows more
    expect(judge(tally(90, 10, 10), tally(95, 5, 10)).result).to.equal('pass');
    expect(judge(tally(8_700, 1_300, 10), tally(9_500, 500, 10)).result).to.equal('fail');
  });

  it('a few slow first requests (a pool connecting) do not fail a release: 4 of 200 at 180 ms against 45 ms', () => {
    // the case: one p99 of a small sample read 179 ms vs 49 ms (3.6x) and rolled back
    const v = judge(tally(200, 0, 40, { n: 4, ms: 180 }), tally(200, 0, 45));
    expect(v.result, v.reason).to.equal('pass');
    expect(v.reason).to.match(/p99 1\d\d ms vs 4\d ms in probation$/);
  });

  it('judges fewer than minRequests on crashes alone: not-enough', () => {
    const v = judge(tally(10, 9, 500), tally(600, 0, 10));
    expect(v.result).to.equal('not-enough');
    expect(v.reason).to.equal('19 response(s) in probation, fewer than minRequests 20: judged on crashes alone');
    expect(judge(tally(0, 0, 1), tally(0, 0, 1)).result).to.equal('not-enough');
    expect(judge(tally(5, 15, 10), tally(600, 0, 10)).result, 'exactly minRequests is judged').to.equal('fail');
  });

  it('holds the new share against maxErrorRate alone when the old generation served too few to compare', () => {
    const fail = judge(tally(70, 30, 10), tally(3, 0, 10));
    expect(fail.result).to.equal('fail');
    expect(fail.reason).to.match(/^5xx 30\.0% \(30 of 100\): at least 2\d\.\d% \(99% confidence\), above maxErrorRate 5\.0% \(the old generation served 3, too few to compare with\) in probation$/);
    const pass = judge(tally(97, 3, 500), tally(0, 0, 1));
    expect(pass.result, 'no latency baseline: latency not judged').to.equal('pass');
    expect(pass.reason).to.match(/^5xx 3\.0% \(3 of 100\), p99 \d+ ms, not compared \(the old generation served 0\) in probation$/);
  });

  it('does not fail a slower release against a sub-millisecond old latency below the floor', () => {
    // the new generation answers in 12 ms, the old one in 0.4 ms: 3 x 20 ms is the limit
    const v = judge(tally(500, 0, 12), tally(500, 0, 0.4));
    expect(v.result, v.reason).to.equal('pass');
    // well above the floor it fails, and says the floor was used
    const slow = judge(tally(500, 0, 90), tally(500, 0, 0.4));
    expect(slow.result).to.equal('fail');
    expect(slow.reason).to.match(/^p\d+ at least \d+ ms vs at most 0\.\d+ ms \(\d+\.\dx, limit 3x, of at least 20 ms, 99% confidence\) in probation$/);
    expect(LATENCY_FLOOR_MS).to.equal(20);
    expect(judge(tally(500, 0, 12), tally(500, 0, 0.4), { ...CANARY_DEFAULTS, latencyFloorMs: 1 }).result).to.equal('fail');
  });

  it('does not judge latency when maxLatencyRatio is 0', () => {
    expect(judge(tally(500, 0, 5000), tally(500, 0, 5), { ...CANARY_DEFAULTS, maxLatencyRatio: 0 }).result).to.equal('pass');
  });

  it('honours its policy', () => {
    expect(judge(tally(70, 30, 10), tally(100, 0, 10), { ...CANARY_DEFAULTS, maxErrorRate: 0.25 }).result).to.equal('pass');
    expect(judge(tally(2, 8, 10), tally(100, 0, 10), { ...CANARY_DEFAULTS, minRequests: 5 }).result).to.equal('fail');
    expect(judge(tally(600, 0, 200), tally(600, 0, 100), { ...CANARY_DEFAULTS, maxLatencyRatio: 1.5 }).result).to.equal('fail');
    expect(judge(tally(600, 0, 200), tally(600, 0, 100)).result).to.equal('pass');
  });

  it('says what the warm-up left out', () => {
    const v = judge(tally(400, 0, 10), tally(400, 0, 10), CANARY_DEFAULTS, { ms: 500, responses: 212 });
    expect(v.reason).to.match(/ in probation \(after a 500 ms warm-up, 212 response\(s\) of the new generation left out\)$/);
    expect(judge(tally(4, 0, 10), tally(400, 0, 10), CANARY_DEFAULTS, { ms: 500, responses: 9 }).reason)
      .to.equal('4 response(s) in probation (after a 500 ms warm-up, 9 response(s) of the new generation left out), fewer than minRequests 20: judged on crashes alone');
  });

  it('chance alone rolls back no healthy release: 2,000 pairs drawn from one app (1 % 5xx, long-tailed latency), 20 to 2,000 responses a side', () => {
    const rnd = random(21);
    let fails = 0;
    for (let i = 0; i < 2_000; i++) {
      const n = 20 + Math.floor(rnd() * 1_980);
      const m = 20 + Math.floor(rnd() * 1_980);
      if (judge(sample(rnd, n, 30, 0.01), sample(rnd, m, 30, 0.01)).result === 'fail') fails++;
    }
    expect(fails).to.equal(0);
  });

  it('every real regression with a sample that shows it is caught: 5x slower, and 30 % 5xx, in 200 draws of 100 to 2,000 responses a side', () => {
    const rnd = random(5);
    const missed = { slow: 0, errors: 0 };
    for (let i = 0; i < 200; i++) {
      const n = 100 + Math.floor(rnd() * 1_900);
      const m = 100 + Math.floor(rnd() * 1_900);
      if (judge(sample(rnd, n, 150, 0.01), sample(rnd, m, 30, 0.01)).result !== 'fail') missed.slow++;
      if (judge(sample(rnd, n, 30, 0.3), sample(rnd, m, 30, 0.01)).result !== 'fail') missed.errors++;
    }
    expect(missed).to.deep.equal({ slow: 0, errors: 0 });
  });

  it('formats its figures', () => {
    expect(percent(0.2141)).to.equal('21.4%');
    expect(percent(0)).to.equal('0.0%');
    expect(millis(412.4)).to.equal('412 ms');
    expect(millis(8.46)).to.equal('8.5 ms');
    expect(millis(0.423)).to.equal('0.42 ms');
  });
});
