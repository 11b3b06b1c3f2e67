import { expect } from 'chai';
import type { Verdict } from '../../../lib/observe/canary';
import cluster from 'node:cluster';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as sinon from 'sinon';
import { resolveOptions } from '../../../lib/config/options';
import { Logger } from '../../../lib/log/log';
import { msg } from '../../../lib/messages';
import { historyPath, readHistory } from '../../../lib/observe/history';
import { Observation } from '../../../lib/observe/observation';
import { Observer, changeResult, restartReason, type ObservedGeneration } from '../../../lib/observe/observer';
import { request } from '../../support/http-client';
import { parsePrometheus as parse } from '../../support/prom-parse';
import { RequestCounting, countingEnabled } from '../../../lib/worker/counting';
import { removeDir, tempDir } from '../../support/unit';
import { FakeChild } from '../../support/fakes/child';
import { FakeMaster } from '../../support/fakes/master';
import { waitFor } from '../../support/wait';
import type { RequestStats } from '../../../lib/observe/request-stats';

const log = new Logger('master', 1, 'silent', 'text');

function gen(id: number, state: string, workers: Array<[number, string, number]>): ObservedGeneration {
  const slots = new Map(workers.map(([wid, s, conns]) => [wid, { state: s, connections: conns, leaving: false }]));
  return { id, state, slots, loaded: { script: `/srv/app/releases/${id}/app.js` } };
}

/** A worker's report as cluster's 'message' event brings it to the master. */
function report(workerId: number, codes: Record<string, number>, ms: number, warm?: Record<string, number>): void {
  const data = (c: Record<string, number>): { n: number; sum: number; b: number[] } => {
    const n = Object.values(c).reduce((a, b) => a + b, 0);
    return { n, sum: n * ms, b: n > 0 ? [40, n] : [] };
  };
  const delta = { codes, aborted: 0, latency: data(codes), ...(warm ? { warm: { codes: warm, latency: data(warm) } } : {}) };
  cluster.emit('message', { id: workerId }, msg({ type: 'requests', delta }));
}

describe('observe: the wiring in the master and the workers', () => {
  let dir: string | undefined;
  afterEach(() => {
    removeDir(dir);
    dir = undefined;
  });

  describe('Observer', () => {
    it('adds each worker\'s deltas to its generation, counts restarts, changes and forced closes, and renders the gauges', () => {
      const m = new FakeMaster();
      const g1 = gen(1, 'draining', [[1, 'draining', 3]]);
      const g2 = gen(2, 'serving', [[2, 'ready', 5], [3, 'starting', 0]]);
      m.generations.set(1, g1).set(2, g2);
      m.serving = g2;
      const o = new Observer(m, undefined, log);
      o.start();
      try {
        m.emit('serving', { generation: 1 });
        m.emit('reload-started', { generation: 2 });
        report(1, { '2xx': 7, '5xx': 1 }, 3);
        report(2, { '2xx': 4 }, 3);
        report(99, { '2xx': 100 }, 3); // no generation has that worker: dropped
        cluster.emit('message', { id: 2 }, msg({ type: 'requests', delta: { codes: { '2xx': 5 }, aborted: 0, latency: { n: 1, sum: 1, b: [40, 1] } } })); // malformed: counts and latency disagree
        m.emit('reload-succeeded', { generation: 2 });
        m.emit('worker-replaced', { pid: 5, generation: 2, reason: 'served 10 requests (maxRequests 10)' });
        m.emit('drain-forced', { generation: 1, pid: 4, connections: 2, upgraded: 0 });
        const text = o.render();
        const fams = parse(text);
        const v = (name: string, labels: Record<string, string>): number | undefined => fams.get(name)?.samples.find((s) => Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value;
        expect(v('baton_requests_total', { generation: '1', code: '2xx' })).to.equal(7);
        expect(v('baton_requests_total', { generation: '1', code: '5xx' })).to.equal(1);
        expect(v('baton_requests_total', { generation: '2', code: '2xx' })).to.equal(4);
        expect(v('baton_requests_total', { generation: '2', code: '5xx' })).to.equal(0);
        expect(v('baton_reloads_total', { result: 'succeeded' })).to.equal(1);
        expect(v('baton_worker_restarts_total', { reason: 'requests' })).to.equal(1);
        expect(v('baton_drain_forced_total', {})).to.equal(2);
        expect(v('baton_workers', { generation: '2', state: 'serving' })).to.equal(1);
        expect(v('baton_workers', { generation: '2', state: 'starting' })).to.equal(1);
        expect(v('baton_workers', { generation: '1', state: 'draining' })).to.equal(1);
        expect(v('baton_connections', { generation: '1', state: 'draining' })).to.equal(3);
        expect(v('baton_connections', { generation: '2', state: 'open' })).to.equal(5);
        expect(v('baton_generation_info', { generation: '2', release: '/srv/app/releases/2', node: process.version })).to.equal(1);
        expect(o.metrics.tally(1).codes).to.deep.include({ '2xx': 7, '5xx': 1 });
      } finally {
        o.stop();
      }
    });

    it('starts from the old master\'s counters, the latest it sent replacing the one before', () => {
      const m = new FakeMaster();
      const g = gen(5, 'serving', [[10, 'ready', 0]]);
      m.generations.set(5, g);
      const old = new Observer(new FakeMaster(), undefined, log);
      old.metrics.addRequests(4, { codes: { '2xx': 10 }, aborted: 0, latency: { n: 10, sum: 10, b: [40, 10] } });
      const o = new Observer(m, undefined, log);
      o.start();
      try {
        o.inherited = old.snapshot();
        report(10, { '2xx': 3 }, 1);
        old.metrics.addRequests(4, { codes: { '2xx': 2 }, aborted: 0, latency: { n: 2, sum: 2, b: [40, 2] } });
        o.inherited = old.snapshot();
        const fams = parse(o.render());
        const s = fams.get('baton_requests_total')?.samples ?? [];
        expect(s.find((x) => x.labels.generation === '4' && x.labels.code === '2xx')?.value).to.equal(12);
        expect(s.find((x) => x.labels.generation === '5' && x.labels.code === '2xx')?.value).to.equal(3);
        // and on to the next master: its own and what it inherited
        const next = new Observer(new FakeMaster(), undefined, log);
        next.inherited = o.snapshot();
        expect(parse(next.render()).get('baton_requests_total')?.samples.find((x) => x.labels.generation === '4' && x.labels.code === '2xx')?.value).to.equal(12);
      } finally {
        o.stop();
      }
    });

    it('records each reload and upgrade in <pidFile>.history, with its trigger and result', async () => {
      dir = tempDir('baton-obs-');
      const pidFile = path.join(dir, 'app.pid');
      const m = new FakeMaster();
      const g1 = gen(1, 'serving', []);
      m.generations.set(1, g1).set(2, gen(2, 'starting', []));
      m.serving = g1;
      const o = new Observer(m, pidFile, log);
      o.start();
      try {
        o.triggeredBy('cli', () => m.emit('reload-started', { generation: 2 }));
        m.emit('reload-failed', { generation: 2, reason: 'reload rolled back: 5xx 30.0% (30 of 100) vs 0.0% (0 of 100) in probation' });
        o.signalled();
        m.emit('reload-started', { generation: 3 });
        m.emit('reload-failed', { generation: 3, reason: 'not ready within readyTimeout (300 ms)' });
        await new Promise((r) => setImmediate(r)); // a signal's trigger lasts for what its handler starts
        m.emit('upgrade-failed', { reason: 'could not spawn node: ENOENT' });
        const h = readHistory(historyPath(pidFile));
        expect(h.map((r) => [r.kind, r.trigger, r.result])).to.deep.equal([['reload', 'cli', 'rolled_back'], ['reload', 'signal', 'failed'], ['upgrade', 'api', 'failed']]);
        expect(h[0]?.from).to.deep.include({ generation: 1, release: '/srv/app/releases/1', node: process.version, pid: process.pid });
        expect(h[0]?.to).to.deep.include({ generation: 2, release: '/srv/app/releases/2' });
        expect(h[0]?.reason).to.match(/^reload rolled back: 5xx 30\.0%/);
        const fams = parse(o.render());
        expect(fams.get('baton_reloads_total')?.samples.find((s) => s.labels.result === 'rolled_back')?.value).to.equal(1);
        expect(fams.get('baton_upgrades_total')?.samples.find((s) => s.labels.result === 'failed')?.value).to.equal(1);
      } finally {
        o.stop();
      }
    });

    it('names restart reasons and change results from the master\'s words', () => {
      expect(restartReason('no heartbeat for 3000 ms (workerTimeout 2000 ms): its event loop is blocked')).to.equal('hung');
      expect(restartReason('RSS 600 MiB is over maxMemory (512 MiB)')).to.equal('memory');
      expect(restartReason('served 10 requests (maxRequests 10)')).to.equal('requests');
      expect(changeResult('worker 12 exited (code 1) during probation')).to.equal('rolled_back');
      expect(changeResult('upgrade rolled back: p99 412 ms vs 80 ms (5.2x, limit 3x) in probation')).to.equal('rolled_back');
      expect(changeResult('the new master 5 exited with code 1 before it was serving')).to.equal('failed');
    });
  });

  describe('Observation', () => {
    let clock: sinon.SinonFakeTimers | undefined;
    afterEach(() => clock?.restore());

    it('shutdownDelay: /readyz says why it is 503 at once, the drain comes after the delay; a second stop ends the delay', () => {
      clock = sinon.useFakeTimers();
      const m = new FakeMaster();
      m.serving = gen(1, 'serving', []);
      const ob = new Observation(m, { opts: resolveOptions({ shutdownDelay: 500 }), log });
      expect(ob.notReady()).to.equal(undefined);
      const drain = sinon.spy();
      expect(ob.delayStop('SIGTERM', drain)).to.equal(true);
      expect(ob.notReady()).to.equal('stopping (shutdownDelay)');
      clock.tick(499);
      expect(drain.called).to.equal(false);
      clock.tick(1);
      expect(drain.calledOnce).to.equal(true);

      const ob2 = new Observation(m, { opts: resolveOptions({ shutdownDelay: 500 }), log });
      const drain2 = sinon.spy();
      expect(ob2.delayStop('SIGTERM', drain2)).to.equal(true);
      expect(ob2.delayStop('SIGTERM', drain2)).to.equal(false); // the caller drains now
      clock.tick(1_000);
      expect(drain2.called).to.equal(false);

      const none = new Observation(m, { opts: resolveOptions({}), log });
      expect(none.delayStop('SIGTERM', drain)).to.equal(false);
      m.state = 'stopping';
      expect(none.notReady()).to.equal('stopping');
    });

    it('after the hand-over it answers the totals it sent to the new master, not its own later counts (a scrape never sees the total fall)', () => {
      const m = new FakeMaster();
      m.generations.set(1, gen(1, 'serving', [[1, 'ready', 0]]));
      m.serving = m.generations.get(1);
      const ob = new Observation(m, { opts: resolveOptions({}), log });
      ob.observer.start();
      const child = new FakeChild();
      const sent = child.sent;
      const total = (text: string): number => (parse(text).get('baton_requests_total')?.samples ?? []).reduce((a, x) => a + x.value, 0);
      try {
        ob.followSuccessor(child as never);
        report(1, { '2xx': 5 }, 2);
        ob.handedOver();
        const handed = sent.at(-1)?.snapshot;
        expect(total(ob.render())).to.equal(5);
        report(1, { '2xx': 3 }, 2); // its draining workers go on reporting
        expect(total(ob.observer.render()), 'its own count grows').to.equal(8);
        expect(total(ob.render()), 'what it answers stays at the hand-over').to.equal(5);
        expect(sent.at(-1)?.snapshot).to.deep.equal(handed);
      } finally {
        ob.observer.stop();
        child.emit('exit');
      }
    });

    it('judges a reload over the probation window only, each worker\'s warm-up left out (what each generation served before does not count)', () => {
      const m = new FakeMaster();
      m.generations.set(1, gen(1, 'serving', [[1, 'ready', 0]])).set(2, gen(2, 'serving', [[2, 'ready', 0]]));
      const ob = new Observation(m, { opts: resolveOptions({ probation: { ms: 1000, minRequests: 10 } }), log });
      ob.observer.start();
      try {
        report(1, { '5xx': 50 }, 2); // before the window: the old generation's bad past
        const j = ob.reloadJudge(2, 1);
        j.begin();
        // the new worker's warm-up (its first 500 ms): counted in the metrics, left out of the canary
        report(2, { '2xx': 10, '5xx': 7 }, 2, { '2xx': 10, '5xx': 7 });
        report(1, { '2xx': 100 }, 2);
        report(2, { '2xx': 70, '5xx': 30 }, 2);
        expect(ob.observer.metrics.tally(2).left).to.equal(17);
        expect(ob.observer.metrics.requests.get({ generation: 2, code: '5xx' })).to.equal(37);
        expect(ob.observer.metrics.tally(2).codes['5xx']).to.equal(30);
        const v = j.verdict() as Verdict; // a reload's judge answers at once
        expect(v.result).to.equal('fail');
        expect(v.reason).to.equal('5xx 30.0% (30 of 100) vs 0.0% (0 of 100): an excess of at least 15.5% (99% confidence), above maxErrorRate 5.0% in probation (after a 333 ms warm-up, 17 response(s) of the new generation left out)');
      } finally {
        ob.observer.stop();
      }
    });
  });

  describe('RequestCounting (worker)', () => {
    it('reports what its server answered, only when it answered something, and a last report at close', async () => {
      const sent: unknown[] = [];
      const c = new RequestCounting((m, then) => {
        sent.push(m);
        then?.();
      }, true);
      const server = http.createServer((req, res) => {
        res.statusCode = req.url === '/bad' ? 500 : 200;
        res.end('x');
      });
      c.watch(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        await request({ port }, '/');
        await request({ port }, '/bad');
        await request({ port }, '/');
        // counted at each response's 'close', which may come after the client has its answer
        await waitFor('the three responses counted', () => (c.sink as RequestStats | undefined)?.counted === 3, 5_000, 5);
        let done = false;
        c.close(() => (done = true));
        expect(done).to.equal(true);
        expect(sent).to.have.length(1);
        expect(sent[0]).to.deep.include({ type: 'requests' });
        expect((sent[0] as { delta: { codes: unknown } }).delta.codes).to.deep.equal({ '2xx': 2, '5xx': 1 });
        c.close(() => undefined);
        expect(sent).to.have.length(1); // nothing new: nothing sent
      } finally {
        server.close();
      }
    });

    it('is off with BATON_REQUEST_STATS=off', () => {
      expect(countingEnabled({ BATON_REQUEST_STATS: 'off' })).to.equal(false);
      expect(countingEnabled({ BATON_REQUEST_STATS: '0' })).to.equal(false);
      expect(countingEnabled({})).to.equal(true);
      const sent: unknown[] = [];
      const c = new RequestCounting((m) => sent.push(m), false);
      c.watch(http.createServer());
      c.close(() => undefined);
      expect(sent).to.deep.equal([]);
    });
  });
});
