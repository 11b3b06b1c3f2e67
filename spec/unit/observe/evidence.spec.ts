import { expect } from 'chai';
import { CONFIDENCE, QUANTILES, quantileName, rankBounds, shareBounds, Z } from '../../../lib/observe/evidence';

describe('observe: evidence (confidence bounds)', () => {
  it('Z is the one-sided normal quantile of CONFIDENCE', () => {
    expect(CONFIDENCE).to.equal(0.99);
    expect(Z).to.be.closeTo(2.3263, 0.001);
  });

  it('share bounds (Wilson): 0 of 20 may be up to 21 %; 112 of 523 lies in 17.5-25.9 %; none of 0 says nothing', () => {
    const zero = shareBounds(0, 20);
    expect(zero.lo).to.equal(0);
    expect(zero.hi).to.be.closeTo(0.2129, 0.0005);
    const some = shareBounds(112, 523);
    expect(some.lo).to.be.closeTo(0.1755, 0.0005);
    expect(some.hi).to.be.closeTo(0.2587, 0.0005);
    expect(shareBounds(0, 0)).to.deep.equal({ lo: 0, hi: 1 });
    expect(shareBounds(20, 20).hi).to.be.closeTo(1, 1e-12);
    // more responses, tighter bounds around the same share
    expect(shareBounds(100, 1_000).hi - shareBounds(100, 1_000).lo).to.be.lessThan(shareBounds(10, 100).hi - shareBounds(10, 100).lo);
  });

  it('quantile rank bounds: p99 of 1,000 lies between the 982nd and the 998th response; 100 responses cannot bound p99 from above', () => {
    expect(rankBounds(1_000, 0.99)).to.deep.equal({ lo: 982, hi: 998 });
    expect(rankBounds(100, 0.99).hi).to.be.greaterThan(100);
    expect(rankBounds(550, 0.99).hi).to.be.at.most(550);
    expect(rankBounds(25, 0.5).hi).to.be.at.most(25);
    expect(rankBounds(10, 0.99).lo).to.be.at.least(0);
  });

  it('names the quantiles it compares', () => {
    expect(QUANTILES.map(quantileName)).to.deep.equal(['p90', 'p75', 'p50']);
    expect(quantileName(0.99)).to.equal('p99');
  });
});
