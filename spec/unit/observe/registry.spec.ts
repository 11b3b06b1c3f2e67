import { expect } from 'chai';
import { Histogram } from '../../../lib/observe/histogram';
import { BatonMetrics, tallySince } from '../../../lib/observe/metrics';
import { CONTENT_TYPE, escapeLabelValue, render } from '../../../lib/observe/prometheus';
import { Counter, Gauge, HistogramFamily } from '../../../lib/observe/registry';
import { RequestStats, type RequestDelta } from '../../../lib/observe/request-stats';
import { parsePrometheus, sampleValue } from '../../support/prom-parse';

function delta(codes: RequestDelta['codes'], ms: number[]): RequestDelta {
  const h = new Histogram();
  for (const v of ms) h.record(v);
  return { codes, aborted: 0, latency: h.toData() };
}

describe('observe: registry and Prometheus text', () => {
  it('renders counters, gauges and histograms as text format 0.0.4 that a strict parser accepts', () => {
    const c = new Counter('x_total', 'A counter.', ['a']);
    const g = new Gauge('x_open', 'A gauge.');
    const h = new HistogramFamily('x_seconds', 'A histogram.', ['gen']);
    c.inc({ a: 'one' });
    c.inc({ a: 'one' }, 2);
    c.inc({ a: 'two' });
    g.set({}, -3);
    const ms = new Histogram();
    for (const v of [0.2, 3, 3, 70, 120_000]) ms.record(v);
    h.merge({ gen: 1 }, ms);
    const text = render([c, g, h]);
    const f = parsePrometheus(text);
    expect(f.get('x_total')?.type).to.equal('counter');
    expect(f.get('x_total')?.help).to.equal('A counter.');
    expect(sampleValue(f, 'x_total', { a: 'one' })).to.equal(3);
    expect(sampleValue(f, 'x_total', { a: 'two' })).to.equal(1);
    expect(sampleValue(f, 'x_open')).to.equal(-3);
    expect(f.get('x_seconds')?.type).to.equal('histogram');
    expect(sampleValue(f, 'x_seconds_bucket', { gen: '1', le: '0.0005' })).to.equal(1);
    expect(sampleValue(f, 'x_seconds_bucket', { gen: '1', le: '0.005' })).to.equal(3);
    expect(sampleValue(f, 'x_seconds_bucket', { gen: '1', le: '0.1' })).to.equal(4);
    expect(sampleValue(f, 'x_seconds_bucket', { gen: '1', le: '60' })).to.equal(4);
    expect(sampleValue(f, 'x_seconds_bucket', { gen: '1', le: '+Inf' })).to.equal(5);
    expect(sampleValue(f, 'x_seconds_count', { gen: '1' })).to.equal(5);
    expect(sampleValue(f, 'x_seconds_sum', { gen: '1' })).to.be.closeTo(120.0762, 1e-9);
    expect(text).to.contain('x_seconds_bucket{gen="1",le="0.0025"} 1\n');
    expect(text.endsWith('\n')).to.equal(true);
    expect(CONTENT_TYPE).to.equal('text/plain; version=0.0.4; charset=utf-8');
  });

  it('escapes label values, and the parser reads them back', () => {
    expect(escapeLabelValue('a\\b"c\nd')).to.equal('a\\\\b\\"c\\nd');
    const odd = '/srv/app "current"\\releases\n42';
    const info = new Gauge('info', 'An info series.', ['release']);
    info.set({ release: odd }, 1);
    expect(sampleValue(parsePrometheus(render([info])), 'info', { release: odd })).to.equal(1);
  });

  it('the strict parser rejects what Prometheus would', () => {
    const bad: Array<[string, RegExp]> = [
      ['a 1', /newline/],
      ['# TYPE a counter\na -1\n', /negative/],
      ['# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n', /duplicate/],
      ['# TYPE a counter\n# TYPE b gauge\nb 1\na 1\n', /outside its family/],
      ['a{x="\\q"} 1\n', /bad escape/],
      ['a{x="1} 1\n', /unterminated|expected/],
      ['a one\n', /bad value/],
      ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /not cumulative/],
      ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
      ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /!= _count/],
      ['a 1\n\n', /empty line/],
    ];
    for (const [text, re] of bad) expect(() => parsePrometheus(text), JSON.stringify(text)).to.throw(re);
  });
});

describe('observe: baton metrics', () => {
  it('has every metric of issue 12 with its labels, and known counters at 0 from the start', () => {
    const m = new BatonMetrics();
    m.addGeneration(1);
    m.connections.set({ generation: 1, state: 'open' }, 3);
    m.workers.set({ generation: 1, state: 'serving' }, 2);
    m.generationInfo.set({ generation: 1, release: '/srv/app/releases/41', node: 'v20.20.2' }, 1);
    const f = parsePrometheus(m.render());
    const types: Record<string, string> = {
      baton_requests_total: 'counter', baton_request_duration_seconds: 'histogram', baton_connections: 'gauge', baton_workers: 'gauge',
      baton_worker_restarts_total: 'counter', baton_upgrades_total: 'counter', baton_reloads_total: 'counter', baton_generation_info: 'gauge', baton_drain_forced_total: 'counter',
    };
    expect(Object.fromEntries([...f.values()].map((x) => [x.name, x.type]))).to.deep.equal(types);
    for (const code of ['1xx', '2xx', '3xx', '4xx', '5xx']) expect(sampleValue(f, 'baton_requests_total', { generation: '1', code })).to.equal(0);
    for (const result of ['succeeded', 'rolled_back', 'failed']) {
      expect(sampleValue(f, 'baton_upgrades_total', { result })).to.equal(0);
      expect(sampleValue(f, 'baton_reloads_total', { result })).to.equal(0);
    }
    for (const reason of ['crashed', 'hung', 'memory', 'requests']) expect(sampleValue(f, 'baton_worker_restarts_total', { reason })).to.equal(0);
    expect(sampleValue(f, 'baton_drain_forced_total')).to.equal(0);
    expect(sampleValue(f, 'baton_request_duration_seconds_count', { generation: '1' })).to.equal(0);
    expect(sampleValue(f, 'baton_connections', { generation: '1', state: 'open' })).to.equal(3);
    expect(sampleValue(f, 'baton_generation_info', { generation: '1', release: '/srv/app/releases/41', node: 'v20.20.2' })).to.equal(1);
  });

  it('adds workers\' deltas per generation, and a tally window is the difference of two tallies', () => {
    const m = new BatonMetrics();
    m.addGeneration(1);
    m.addGeneration(2);
    m.addRequests(1, delta({ '2xx': 10 }, Array(10).fill(5)));
    const start1 = m.tally(1);
    const start2 = m.tally(2);
    m.addRequests(1, delta({ '2xx': 5, '5xx': 1 }, Array(6).fill(8)));
    m.addRequests(2, delta({ '2xx': 3, '5xx': 2 }, Array(5).fill(300)));
    const w1 = tallySince(m.tally(1), start1);
    const w2 = tallySince(m.tally(2), start2);
    expect(w1.codes).to.deep.equal({ '1xx': 0, '2xx': 5, '3xx': 0, '4xx': 0, '5xx': 1 });
    expect(w1.latency.count).to.equal(6);
    expect(w2.codes['5xx']).to.equal(2);
    expect(w2.latency.quantile(0.99) as number).to.be.within(280, 300);
    const f = parsePrometheus(m.render());
    expect(sampleValue(f, 'baton_requests_total', { generation: '1', code: '2xx' })).to.equal(15);
    expect(sampleValue(f, 'baton_request_duration_seconds_count', { generation: '2' })).to.equal(5);
  });

  it('takes a RequestStats delta as it comes over IPC (JSON)', () => {
    const stats = new RequestStats();
    expect(stats.takeDelta()).to.equal(undefined);
    const m = new BatonMetrics();
    m.addRequests(3, JSON.parse(JSON.stringify(delta({ '4xx': 2 }, [1, 2]))) as RequestDelta);
    expect(m.requests.get({ generation: 3, code: '4xx' })).to.equal(2);
  });

  it('continues its counters across 3 upgrades: snapshot, JSON, restore; never decreasing', () => {
    let master = new BatonMetrics();
    let gen = 1;
    master.addGeneration(gen);
    const seen: number[] = [];
    const total = (m: BatonMetrics): number => {
      const f = parsePrometheus(m.render());
      let n = 0;
      for (const s of f.get('baton_requests_total')?.samples ?? []) n += s.value;
      return n;
    };
    for (let upgrade = 0; upgrade < 3; upgrade++) {
      master.addRequests(gen, delta({ '2xx': 100, '5xx': 1 }, Array(101).fill(2)));
      master.upgrades.inc({ result: 'succeeded' });
      master.drainForced.inc(undefined, 2);
      seen.push(total(master));
      const snap = JSON.parse(JSON.stringify(master.snapshot())) as unknown;
      const next = new BatonMetrics();
      expect(next.restore(snap)).to.equal(0);
      gen++;
      next.addGeneration(gen);
      seen.push(total(next));
      // the old master's generation goes on draining: its last deltas reach the new master
      const late = delta({ '2xx': 4 }, [1, 1, 1, 1]);
      master.addRequests(gen - 1, late);
      next.addRequests(gen - 1, late);
      master = next;
      seen.push(total(master));
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i], `reading ${i}: ${seen.join(', ')}`).to.be.at.least(seen[i - 1] as number);
    expect(seen[seen.length - 1]).to.equal(3 * 105);
    const f = parsePrometheus(master.render());
    expect(sampleValue(f, 'baton_upgrades_total', { result: 'succeeded' })).to.equal(3);
    expect(sampleValue(f, 'baton_drain_forced_total')).to.equal(6);
    expect(sampleValue(f, 'baton_request_duration_seconds_count', { generation: '1' })).to.equal(105);
  });

  it('does not hand over gauges, and skips what does not fit in a snapshot', () => {
    const m = new BatonMetrics();
    m.workers.set({ generation: 1, state: 'serving' }, 4);
    const snap = m.snapshot();
    expect(snap.counters.some((c) => c.name === 'baton_workers')).to.equal(false);
    const next = new BatonMetrics();
    const skipped = next.restore({
      version: 1,
      counters: [
        { name: 'baton_upgrades_total', labels: { result: 'failed' }, value: 2 },
        { name: 'gone_total', labels: {}, value: 1 },
        { name: 'baton_upgrades_total', labels: { outcome: 'failed' }, value: 1 },
        { name: 'baton_upgrades_total', labels: { result: 'failed' }, value: -5 },
        { name: 'baton_workers', labels: { generation: '1', state: 'serving' }, value: 4 },
      ],
      histograms: [{ name: 'baton_request_duration_seconds', labels: { generation: '1' }, value: { n: 2, sum: 1, b: [0, 1] } }],
    });
    expect(skipped).to.equal(5);
    expect(next.upgrades.get({ result: 'failed' })).to.equal(2);
    expect(next.restore(null)).to.equal(0);
    expect(next.restore({ version: 2 })).to.equal(0);
  });
});
