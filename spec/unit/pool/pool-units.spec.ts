// The pool without processes: a generation whose workers are fake cluster workers (an
// EventEmitter standing for each worker and its IPC channel), the reload attempt over it,
// the crash back-off and the probation, all on sinon's fake clock.
import { expect } from 'chai';
import * as sinon from 'sinon';
import cluster, { type Worker } from 'node:cluster';
import { Generation } from '../../../lib/pool/generation';
import { ReloadAttempt } from '../../../lib/pool/reload';
import { WorkersAccept } from '../../../lib/pool/workers-accept';
import { Dispatcher } from '../../../lib/pool/dispatch';
import type { Listener } from '../../../lib/sockets/ledger';
import type { Judge } from '../../../lib/observe/canary';
import type { Verdict } from '../../../lib/observe/canary';
import { Backoff } from '../../../lib/pool/backoff';
import { Probation } from '../../../lib/pool/probation';
import { REPORT_TIMEOUT, Trial } from '../../../lib/pool/trial';
import { Logger } from '../../../lib/log/log';
import { FakeWorker } from '../../support/fakes/worker';

const log = new Logger('master', 1, 'silent');

/** A TCP listener the workers accept on, as the generation sees it. */
const web = { name: 'web', workerHandle: () => ({}) } as unknown as Listener;

/** The workers forked for each generation, by its id (cluster.fork is faked: see below). */
const forkedBy = new Map<string, FakeWorker[]>();

function pool(id: number, workers = 2, readyTimeout = 1_000): { gen: Generation; forked: FakeWorker[] } {
  const forked: FakeWorker[] = [];
  forkedBy.set(String(id), forked);
  const gen = new Generation(id, {
    workers, backlog: 511, readyTimeout, drainTimeout: 1_000, exitTimeout: 0, workerTimeout: 0, maxMemory: 0, maxRequests: 0,
    exec: { script: __filename, args: [], cwd: __dirname },
  }, log);
  return { gen, forked };
}

describe('pool units (fake workers, fake clock)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    // a generation forks through cluster: each fork is a fake worker, filed under its generation
    sinon.stub(cluster, 'setupPrimary');
    sinon.stub(cluster, 'fork').callsFake((env?: Record<string, unknown>) => {
      const w = new FakeWorker();
      forkedBy.get(String(env?.BATON_GENERATION))?.push(w);
      return w as unknown as Worker;
    });
  });
  afterEach(() => {
    clock.restore();
    sinon.restore();
    forkedBy.clear();
  });

  describe('Generation', () => {
    it('a generation drain kills each worker still there at the deadline once, and counts it forced once', () => {
      const { gen, forked } = pool(1);
      gen.start();
      for (const w of forked) w.say({ type: 'ready' });
      gen.drain('test');
      clock.tick(1_000 + 2_000 - 1);
      for (const w of forked) expect(w.process.kill.called, 'before the deadline').to.equal(false);
      clock.tick(1);
      for (const w of forked) expect(w.process.kill.args, `worker ${w.id}`).to.deep.equal([['SIGKILL']]);
      const drained = sinon.spy();
      gen.on('drained', drained);
      for (const w of forked) w.exit(null, 'SIGKILL');
      expect(drained.args).to.deep.equal([[2]]);
    });

    it('is ready once every worker said ready, and fails when one exits before', () => {
      const { gen, forked } = pool(1);
      const ready = sinon.spy();
      gen.on('ready', ready);
      gen.start();
      expect(forked).to.have.length(2);
      forked[0]?.say({ type: 'ready' });
      expect(ready.called).to.equal(false);
      expect(gen.complete()).to.equal(false);
      forked[1]?.say({ type: 'ready' });
      expect(ready.calledOnce).to.equal(true);
      expect(gen.complete()).to.equal(true);

      const other = pool(2);
      const failed = sinon.spy();
      other.gen.on('failed', failed);
      other.gen.start();
      other.forked[0]?.exit(1);
      expect(failed.firstCall.args[0]).to.match(/exited \(code 1\) before it was ready/);
    });

    it('fails at readyTimeout when a worker never says ready', () => {
      const { gen, forked } = pool(1, 2, 500);
      const failed = sinon.spy();
      gen.on('failed', failed);
      gen.start();
      forked[0]?.say({ type: 'ready' });
      clock.tick(499);
      expect(failed.called).to.equal(false);
      clock.tick(1);
      expect(failed.firstCall.args[0]).to.equal('not ready within readyTimeout (500 ms)');
    });

    it('replaces a serving worker that dies, with back-off; during probation it fails instead', () => {
      const { gen, forked } = pool(1, 1);
      gen.start();
      forked[0]?.say({ type: 'ready' });
      gen.markServing();
      forked[0]?.exit(1);
      expect(forked).to.have.length(1);
      clock.tick(100);
      expect(forked).to.have.length(2); // first crash: 100 ms
      forked[1]?.say({ type: 'ready' });
      forked[1]?.exit(1);
      clock.tick(199);
      expect(forked).to.have.length(2);
      clock.tick(1);
      expect(forked).to.have.length(3); // second in a row: 200 ms

      const p = new Probation(1_000);
      p.begin();
      gen.markServing(p); // a change on trial
      const failed = sinon.spy();
      gen.on('failed', failed);
      forked[2]?.say({ type: 'ready' });
      forked[2]?.exit(null, 'SIGKILL');
      expect(failed.firstCall.args[0]).to.match(/exited \(SIGKILL\) during probation/);
    });

    it('tells its workers to accept on the shared sockets once ready, and to stop', () => {
      const { gen, forked } = pool(1, 1);
      gen.start();
      gen.markServing();
      gen.acceptOn([web]);
      const w = forked[0] as FakeWorker;
      expect(w.sent).to.deep.equal([]); // not ready yet
      w.say({ type: 'ready' });
      expect(w.sent.filter((m) => m.type === 'handle')).to.have.length(1); // one to listen on: pausing keeps it
      expect(w.sent.at(-2)).to.include({ type: 'share' }); // a lone worker: no limit
      expect(w.sent.at(-1)).to.include({ type: 'accept', on: true });
      gen.accepting.off();
      expect(w.sent.at(-1)).to.include({ type: 'accept', on: false });
      w.connected = false;
      gen.broadcast({ type: 'signal', signal: 'SIGUSR1' }); // a gone worker's channel: nothing sent, nothing thrown
      expect(w.sent.at(-1)).to.include({ type: 'accept', on: false });
    });
    it('sends the share to its accepting workers when it changes, and only then: a larger one at once, a smaller one on the tick (lib/pool/accepting.ts)', () => {
      const { gen, forked } = pool(1, 2);
      gen.start();
      gen.markServing();
      gen.acceptOn([web]);
      const [a, b] = forked as [FakeWorker, FakeWorker];
      const shares = (w: FakeWorker): unknown[] => w.sent.filter((m) => m.type === 'share').map((m) => m.limit);
      a.say({ type: 'ready' });
      b.say({ type: 'ready' });
      expect(shares(a).at(-1), 'two idle workers: one connection each, then the share grows').to.equal(1);
      expect(shares(b).at(-1)).to.equal(1);
      const sent = a.sent.length + b.sent.length;
      a.say({ type: 'load', open: 1, accepting: false, pauses: 1 }); // 1/0: still 1, nothing sent
      expect(a.sent.length + b.sent.length).to.equal(sent);
      b.say({ type: 'load', open: 1, accepting: false, pauses: 1 }); // 1/1: 2
      expect([shares(a).at(-1), shares(b).at(-1)]).to.deep.equal([2, 2]);
      a.say({ type: 'load', open: 9, accepting: false, pauses: 2 }); // 9/1: the mean, 5
      expect([shares(a).at(-1), shares(b).at(-1)]).to.deep.equal([5, 5]);
      // a smaller share waits for the tick (short connections coming and going send nothing each)
      a.say({ type: 'load', open: 1, accepting: true, pauses: 2 }); // 1/1: 2
      expect(shares(a).at(-1)).to.equal(5);
      clock.tick(25);
      expect([shares(a).at(-1), shares(b).at(-1)]).to.deep.equal([2, 2]);
      // a worker that leaves: the share again, within a tick (a lone worker has none)
      b.exit(1);
      clock.tick(25);
      expect(shares(a).at(-1)).to.equal(Number.MAX_SAFE_INTEGER);
    });

    it('its fairness ticks sleep while nothing changes (a steady load wakes the master for nothing) and wake with the next report', () => {
      const { gen, forked } = pool(1, 2);
      gen.start();
      gen.markServing();
      gen.acceptOn([web]);
      const [a, b] = forked as [FakeWorker, FakeWorker];
      a.say({ type: 'ready' });
      b.say({ type: 'ready' });
      a.say({ type: 'load', open: 4, accepting: true, pauses: 0 });
      b.say({ type: 'load', open: 4, accepting: true, pauses: 0 });
      const ticking = clock.countTimers();
      clock.tick(100);
      const asleep = clock.countTimers();
      expect(asleep, 'balanced and quiet: the tick stopped').to.equal(ticking - 1);
      // a report: the ticks run again, and a smaller share goes out on the next one
      const shares = (w: FakeWorker): unknown[] => w.sent.filter((m) => m.type === 'share').map((m) => m.limit);
      const before = shares(a).at(-1);
      a.say({ type: 'load', open: 1, accepting: true, pauses: 0 });
      b.say({ type: 'load', open: 1, accepting: true, pauses: 0 });
      expect(clock.countTimers()).to.equal(asleep + 1);
      clock.tick(25);
      expect([before, shares(a).at(-1)]).to.deep.equal([5, 2]);
      // a worker far over the mean keeps them running until it is asked to shed
      a.say({ type: 'load', open: 9, accepting: false, pauses: 1 });
      clock.tick(100);
      expect(a.sent.filter((m) => m.type === 'shed'), 'shed after SHED_PERSIST ticks over').to.have.length(1);
    });
  });

  /** A generation of `workers` ready workers, marked serving. */
  function serving(id = 1, workers = 1): { gen: Generation; forked: FakeWorker[] } {
    const p = pool(id, workers);
    p.gen.start();
    for (const w of p.forked) w.say({ type: 'ready' });
    p.gen.markServing();
    return p;
  }

  describe('the intakes (lib/pool/intake.ts)', () => {
    const sockets = [web];
    const accepts = (w: FakeWorker | undefined): Array<unknown> => (w?.sent ?? []).filter((m) => m.type === 'accept').map((m) => m.on);

    it('workers accept: serve() lets the new generation accept before the one before stops', () => {
      const a = serving(1, 1);
      const b = serving(2, 1);
      const i = new WorkersAccept(() => sockets);
      i.serve(a.gen);
      expect(accepts(a.forked[0])).to.deep.equal([true]);
      const order: string[] = [];
      sinon.stub(b.gen, 'acceptOn').callsFake(() => void order.push('b accepts'));
      sinon.stub(a.gen.accepting, 'off').callsFake(() => void order.push('a stops'));
      i.serve(b.gen);
      expect(order).to.deep.equal(['b accepts', 'a stops']);
    });

    it('workers accept: hold() stops the generation that serves, serve() of the same one resumes it', () => {
      const a = serving(1, 1);
      const i = new WorkersAccept(() => sockets);
      i.serve(a.gen);
      i.hold();
      i.serve(a.gen);
      expect(accepts(a.forked[0])).to.deep.equal([true, false, true]);
    });

    it('the master dispatches: what it accepted before a generation serves waits, and goes to the one serve() names; held, its sockets pause until it serves again', () => {
      const a = serving(1, 1);
      const l = { name: 'sock', pause: sinon.spy(), unpause: sinon.spy() };
      const d = new Dispatcher({ handedOver: () => false, generations: () => [a.gen], listeners: () => [l as unknown as Listener] }, log);
      d.dispatch(l as unknown as Listener, { destroyed: false } as unknown as import('node:net').Socket);
      const conns = (): number => (a.forked[0]?.sent ?? []).filter((m) => m.type === 'conn').length;
      expect(conns(), 'nobody serves yet').to.equal(0);
      d.serve(a.gen);
      expect(conns()).to.equal(1);
      expect(l.unpause.called, 'not held: nothing to resume').to.equal(false);
      d.hold();
      expect(l.pause.calledOnce).to.equal(true);
      // what it accepted just before still goes out
      d.dispatch(l as unknown as Listener, { destroyed: false } as unknown as import('node:net').Socket);
      expect(conns()).to.equal(2);
      d.serve(a.gen); // the upgrade failed
      expect(l.unpause.calledOnce).to.equal(true);
    });
  });

  describe('ReloadAttempt', () => {

    it('all ready -> promoted (on probation; which generation accepts is the master\'s to move), then probation -> succeeded', () => {
      const old = serving();
      const next = pool(2, 2);
      const r = new ReloadAttempt(next.gen, old.gen, 1_000);
      const events: string[] = [];
      for (const e of ['promoted', 'rolled-back', 'succeeded'] as const) r.on(e, () => events.push(e));
      r.start();
      next.forked.forEach((w) => w.say({ type: 'ready' }));
      expect(events).to.deep.equal(['promoted']);
      expect(next.gen.state).to.equal('serving');
      expect(next.gen.probation?.active).to.equal(true);
      clock.tick(999);
      expect(events).to.deep.equal(['promoted']);
      clock.tick(1);
      expect(events).to.deep.equal(['promoted', 'succeeded']);
      r.abort(); // over: the master stopping now kills nothing
      expect(next.forked.some((w) => w.process.kill.called)).to.equal(false);
    });

    it('a worker exits before ready -> rolled back, the new generation killed', () => {
      const old = serving();
      const next = pool(2, 2);
      const r = new ReloadAttempt(next.gen, old.gen, 1_000);
      const rolled = sinon.spy();
      r.on('rolled-back', rolled);
      r.start();
      next.forked[0]?.exit(1);
      expect(rolled.calledOnce).to.equal(true);
      expect(rolled.firstCall.args[1]).to.equal(undefined); // the old one never stopped accepting
      expect(next.forked[1]?.process.kill.calledWith('SIGKILL')).to.equal(true);
    });

    it('readyTimeout -> rolled back', () => {
      const old = serving();
      const next = pool(2, 1, 300);
      const r = new ReloadAttempt(next.gen, old.gen, 1_000);
      const rolled = sinon.spy();
      r.on('rolled-back', rolled);
      r.start();
      clock.tick(300);
      expect(rolled.firstCall.args[0]).to.equal('not ready within readyTimeout (300 ms)');
    });

    /** A reload of a 1-worker generation over a serving one, started, with spies on its outcome. */
    function onProbation(judge?: Judge) {
      const old = serving();
      const next = pool(2, 1);
      const r = new ReloadAttempt(next.gen, old.gen, 1_000, judge);
      const rolled = sinon.spy();
      const succeeded = sinon.spy();
      r.on('rolled-back', rolled);
      r.on('succeeded', succeeded);
      r.start();
      return { old, next, rolled, succeeded };
    }

    it('a worker lost during probation -> rolled back, with the old generation to serve again', () => {
      const { old, next, rolled, succeeded } = onProbation();
      next.forked[0]?.say({ type: 'ready' });
      clock.tick(500);
      next.forked[0]?.exit(1);
      expect(rolled.firstCall.args[0]).to.match(/during probation/);
      expect(rolled.firstCall.args[1]).to.equal(old.gen);
      clock.tick(1_000);
      expect(succeeded.called).to.equal(false);
    });

    function verdict(result: 'pass' | 'fail' | 'not-enough', reason: string): Verdict {
      return { result, reason };
    }

    it('the canary fails at the end of probation -> rolled back: the new generation drains (not killed), the old one to serve again', () => {
      const judge = { begin: sinon.spy(), verdict: sinon.stub().returns(verdict('fail', '5xx 30.0% (30 of 100) vs 0.0% (0 of 100) in probation')) };
      const { old, next, rolled, succeeded } = onProbation(judge);
      next.forked[0]?.say({ type: 'ready' });
      expect(judge.begin.calledOnce).to.equal(true);
      clock.tick(999);
      expect(judge.verdict.called).to.equal(false);
      clock.tick(1);
      expect(rolled.firstCall.args[0]).to.equal('reload rolled back: 5xx 30.0% (30 of 100) vs 0.0% (0 of 100) in probation');
      expect(rolled.firstCall.args[1]).to.equal(old.gen);
      expect(next.gen.state).to.equal('draining');
      expect(next.forked[0]?.sent.some((m) => m.type === 'drain')).to.equal(true);
      expect(next.forked[0]?.process.kill.called).to.equal(false);
      expect(succeeded.called).to.equal(false);
    });

    it('the canary passes (or has too few responses) -> judged, then succeeded', () => {
      for (const result of ['pass', 'not-enough'] as const) {
        const old = serving();
        const next = pool(2, 1);
        const judge = { begin: sinon.spy(), verdict: sinon.stub().returns(verdict(result, 'fine')) };
        const r = new ReloadAttempt(next.gen, old.gen, 1_000, judge);
        const events: string[] = [];
        for (const e of ['judged', 'rolled-back', 'succeeded'] as const) r.on(e, () => events.push(e));
        r.start();
        next.forked[0]?.say({ type: 'ready' });
        clock.tick(1_000);
        expect(events).to.deep.equal(['judged', 'succeeded']);
      }
    });
  });

  describe('the trial of a change (lib/pool/trial.ts)', () => {
    const worse: Verdict = { result: 'fail', reason: 'worse' };
    function trial(judge: Judge | undefined, ask?: () => void): { t: Trial; pass: sinon.SinonSpy; rollBack: sinon.SinonSpy } {
      const pass = sinon.spy();
      const rollBack = sinon.spy();
      const t = new Trial({ what: 'upgrade', subject: 'new master 9', ms: 1_000, judge, ask, pass, rollBack, log: new Logger('master', 1, 'silent') });
      t.begin();
      return { t, pass, rollBack };
    }

    it('asks for the evidence at the end of probation, judges it once; none within REPORT_TIMEOUT: passes on crashes alone', () => {
      const ask = sinon.spy();
      const verdict = sinon.stub().returns(worse);
      const slow = trial({ begin: sinon.spy(), verdict }, ask);
      clock.tick(999);
      expect(ask.called).to.equal(false);
      clock.tick(1);
      expect(ask.calledOnce).to.equal(true);
      clock.tick(REPORT_TIMEOUT);
      expect([slow.pass.calledOnceWith(undefined), slow.rollBack.called]).to.deep.equal([true, false]);
      slow.t.evidence({}); // too late: nothing more
      expect(verdict.called).to.equal(false);

      const prompt = trial({ begin: sinon.spy(), verdict }, () => undefined);
      clock.tick(1_000);
      prompt.t.evidence({});
      prompt.t.evidence({});
      expect([verdict.calledOnce, prompt.rollBack.calledOnceWith('upgrade rolled back: worse'), prompt.pass.called]).to.deep.equal([true, true, false]);
    });

    it('a verdict from another process (a promise) is waited for at most REPORT_TIMEOUT; ended, it acts on nothing', async () => {
      const never = trial({ begin: () => undefined, verdict: () => new Promise<undefined>(() => undefined) });
      clock.tick(1_000 + REPORT_TIMEOUT - 1);
      expect(never.pass.called).to.equal(false);
      clock.tick(1);
      expect(never.pass.calledOnce).to.equal(true);

      const late = trial({ begin: () => undefined, verdict: () => Promise.resolve(worse) });
      clock.tick(1_000);
      await Promise.resolve();
      expect(late.rollBack.calledOnceWith('upgrade rolled back: worse')).to.equal(true);

      const ended = trial({ begin: () => undefined, verdict: () => worse });
      ended.t.end();
      clock.tick(1_000 + REPORT_TIMEOUT);
      expect([ended.pass.called, ended.rollBack.called, ended.t.probation.active]).to.deep.equal([false, false, false]);
    });
  });

  describe('policies', () => {
    it('back-off: 100 ms doubling to 10 s for crashes in a row; after 30 s quiet, or a reset, 100 ms again', () => {
      const b = new Backoff();
      const seen = Array.from({ length: 9 }, () => b.next());
      expect(seen).to.deep.equal([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
      clock.tick(30_001);
      expect(b.next()).to.equal(100);
      expect(b.next()).to.equal(200);
      b.reset();
      expect(b.next()).to.equal(100);
    });

    it('probation: active for its ms, passed once, never after end()', () => {
      const p = new Probation(1_000);
      const passed = sinon.spy();
      expect(p.active).to.equal(false);
      p.begin(passed);
      expect(p.active).to.equal(true);
      clock.tick(999);
      expect(p.active).to.equal(true);
      clock.tick(1);
      expect(p.active).to.equal(false);
      expect(passed.calledOnce).to.equal(true);
      p.begin(passed);
      p.end();
      clock.tick(2_000);
      expect(p.active).to.equal(false);
      expect(passed.calledOnce).to.equal(true);
      const bare = new Probation(500);
      bare.begin(); // no timer: only a deadline (the new master's first generation)
      clock.tick(499);
      expect(bare.active).to.equal(true);
      clock.tick(1);
      expect(bare.active).to.equal(false);
    });
  });
});
