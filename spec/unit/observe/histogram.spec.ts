import { expect } from 'chai';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { BOUNDS_MS, BUCKETS, Histogram, PROMETHEUS_BOUNDS_MS, bucketOf, isHistogramData } from '../../../lib/observe/histogram';

/** A deterministic pseudo-random source (the spec must fail the same way every time). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
}

describe('observe: histogram', () => {
  it('has increasing bounds from 0.1 ms to 100 s, each at most 1.167x the one before', () => {
    expect(BOUNDS_MS[0]).to.equal(0.1);
    expect(BOUNDS_MS[BOUNDS_MS.length - 1]).to.equal(100_000);
    expect(BUCKETS).to.equal(BOUNDS_MS.length + 1);
    for (let i = 1; i < BOUNDS_MS.length; i++) {
      const r = (BOUNDS_MS[i] as number) / (BOUNDS_MS[i - 1] as number);
      expect(r, `${BOUNDS_MS[i - 1]} -> ${BOUNDS_MS[i]}`).to.be.greaterThan(1).and.at.most(1.1667);
    }
  });

  it('has every Prometheus bound among its own (the le buckets are exact sums)', () => {
    for (const b of PROMETHEUS_BOUNDS_MS) expect(BOUNDS_MS, String(b)).to.include(b);
  });

  it('puts a value in the first bucket whose bound is >= it; above 100 s in the overflow', () => {
    expect(bucketOf(0)).to.equal(0);
    expect(bucketOf(0.1)).to.equal(0);
    expect(bucketOf(0.10001)).to.equal(1);
    expect(BOUNDS_MS[bucketOf(2.5)]).to.equal(2.5);
    expect(BOUNDS_MS[bucketOf(2.6)]).to.equal(2.75);
    expect(bucketOf(100_000)).to.equal(BOUNDS_MS.length - 1);
    expect(bucketOf(100_001)).to.equal(BOUNDS_MS.length);
    expect(bucketOf(Infinity)).to.equal(BOUNDS_MS.length);
  });

  it('records count and sum; negative and NaN durations count as 0', () => {
    const h = new Histogram();
    h.record(5);
    h.record(15);
    h.record(-3);
    h.record(NaN);
    expect(h.count).to.equal(4);
    expect(h.sum).to.equal(20);
    expect(h.counts[0]).to.equal(2);
  });

  for (const [label, gen] of [
    ['uniform 1-100 ms', (r: () => number) => 1 + 99 * r()],
    ['log-normal around 5 ms', (r: () => number) => Math.exp(Math.log(5) + 0.8 * Math.sqrt(-2 * Math.log(r() || 1e-9)) * Math.cos(2 * Math.PI * r()))],
    ['bimodal 2 ms / 400 ms (2 % slow)', (r: () => number) => (r() < 0.02 ? 380 + 40 * r() : 1.5 + r())],
    ['sub-millisecond 0.2-0.9 ms', (r: () => number) => 0.2 + 0.7 * r()],
  ] as Array<[string, (r: () => number) => number]>) {
    it(`estimates p50, p90 and p99 within 15 % (${label})`, () => {
      const r = lcg(42);
      const h = new Histogram();
      const values: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        const v = gen(r);
        values.push(v);
        h.record(v);
      }
      for (const q of [0.5, 0.9, 0.99]) {
        const exact = exactQuantile(values, q);
        const est = h.quantile(q) as number;
        expect(Math.abs(est - exact) / exact, `q${q}: estimated ${est}, exact ${exact}`).to.be.below(0.15);
      }
    });
  }

  it('has no quantile when empty; one in the overflow reads as 100 s', () => {
    expect(new Histogram().quantile(0.99)).to.equal(undefined);
    const h = new Histogram();
    h.record(500_000);
    expect(h.quantile(0.99)).to.equal(100_000);
  });

  it('merges histograms and their data exactly, in any order', () => {
    const r = lcg(7);
    const parts = [new Histogram(), new Histogram(), new Histogram()];
    const all = new Histogram();
    for (let i = 0; i < 3000; i++) {
      const v = 100 * r() * r();
      (parts[i % 3] as Histogram).record(v);
      all.record(v);
    }
    const a = new Histogram().merge(parts[0] as Histogram).merge((parts[1] as Histogram).toData()).merge(parts[2] as Histogram);
    const b = new Histogram().merge((parts[2] as Histogram).toData()).merge(parts[0] as Histogram).merge(parts[1] as Histogram);
    for (const m of [a, b]) {
      expect([...m.counts]).to.deep.equal([...all.counts]);
      expect(m.count).to.equal(all.count);
      expect(m.sum).to.be.closeTo(all.sum, 1e-6);
    }
  });

  it('gives a window as the difference of two readings', () => {
    const h = new Histogram();
    h.record(1);
    h.record(2);
    const base = new Histogram().merge(h);
    h.record(300);
    h.record(300);
    const w = h.minus(base);
    expect(w.count).to.equal(2);
    expect(w.sum).to.equal(600);
    expect(w.quantile(0.5) as number).to.be.within(280, 300);
    expect(base.count).to.equal(2); // the clone is independent
  });

  it('serializes only non-empty buckets, and reads them back', () => {
    const h = new Histogram();
    h.record(3);
    h.record(3);
    h.record(70);
    const d = h.toData();
    expect(d.n).to.equal(3);
    expect(d.b).to.deep.equal([bucketOf(3), 2, bucketOf(70), 1]);
    expect(isHistogramData(JSON.parse(JSON.stringify(d)))).to.equal(true);
    expect([...new Histogram().merge(d).counts]).to.deep.equal([...h.counts]);
  });

  for (const [label, d] of [
    ['null', null],
    ['counts not adding up to n', { n: 3, sum: 1, b: [0, 2] }],
    ['an odd pair list', { n: 1, sum: 1, b: [0] }],
    ['an index out of range', { n: 1, sum: 1, b: [BUCKETS, 1] }],
    ['a negative count', { n: -1, sum: 1, b: [0, -1] }],
    ['a fractional count', { n: 0.5, sum: 1, b: [0, 0.5] }],
    ['a NaN sum', { n: 1, sum: NaN, b: [0, 1] }],
  ] as Array<[string, unknown]>) {
    it(`rejects histogram data with ${label}`, () => {
      expect(isHistogramData(d)).to.equal(false);
    });
  }

  it('gives cumulative counts at the Prometheus bounds', () => {
    const h = new Histogram();
    for (const v of [0.3, 0.5, 0.7, 1, 4, 60_001, 200_000]) h.record(v);
    const c = h.cumulative();
    expect(c).to.have.length(PROMETHEUS_BOUNDS_MS.length);
    expect(c.slice(0, 4)).to.deep.equal([2, 4, 4, 5]); // le 0.5, 1, 2.5, 5 (ms)
    expect(c[c.length - 1]).to.equal(5); // le 60 s: the 60.001 s and 200 s ones are above
  });

  it('records without allocating (no minor GC while a control that allocates has several)', async () => {
    const h = new Histogram();
    for (let i = 0; i < 200_000; i++) h.record(i % 300); // optimized before it is measured
    const recording = await minorGcs(() => {
      for (let i = 0; i < 2_000_000; i++) h.record((i * 7) % 3000);
    });
    const keep: unknown[] = [];
    const control = await minorGcs(() => {
      // 2e6 objects of about 100 bytes (200 MB): several scavenges even with Node 24's larger young generation
      for (let i = 0; i < 2_000_000; i++) keep[i % 8] = { i, a: [i, i + 1, i + 2, i + 3, i + 4, i + 5] };
    });
    expect(control, 'the control allocates: the GC counter works').to.be.at.least(3);
    expect(recording, 'minor GCs while recording 2e6 durations').to.be.at.most(1);
  });
});

/** Minor (scavenge) GCs while fn runs. */
async function minorGcs(fn: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) n++;
  });
  obs.observe({ entryTypes: ['gc'] });
  await new Promise((r) => setImmediate(r));
  fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return n;
}
