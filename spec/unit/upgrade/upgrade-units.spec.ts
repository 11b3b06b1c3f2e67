// The upgrade protocol without processes: the old master's side (UpgradeAttempt) over a
// fake child (an EventEmitter standing for the spawned master and its IPC channel), the
// hand-over's phases and the upgrade's canary, on sinon's fake clock.
import { expect } from 'chai';
import * as sinon from 'sinon';
import type { ChildProcess } from 'node:child_process';
import { ROLLBACK_GRACE, UpgradeAttempt } from '../../../lib/upgrade/attempt';
import { fromTallyData, toTallyData, upgradeJudge } from '../../../lib/upgrade/canary';
import { REPORT_TIMEOUT } from '../../../lib/pool/trial';
import type { Judge } from '../../../lib/observe/canary';
import { CANARY_DEFAULTS } from '../../../lib/config/observe';
import { emptyTally, type Tally } from '../../../lib/observe/metrics';
import { HAND_OVER, HandOver } from '../../../lib/upgrade/phases';
import { RemoteUpgrade, type SupervisorLink } from '../../../lib/supervisor/supervised';
import { Logger } from '../../../lib/log/log';
import { FakeChild } from '../../support/fakes/child';
import { tally } from '../../support/fakes/tally';

const log = new Logger('master', 1, 'silent');

function attempt(probation: number, judge?: Judge): { a: UpgradeAttempt; child: FakeChild; kill: sinon.SinonStub; events: Array<[string, ...unknown[]]> } {
  const child = new FakeChild();
  const kill = sinon.stub().returns([child.pid]);
  const a = new UpgradeAttempt({
    relaunch: { command: process.execPath, argv0: 'node', execArgv: [], script: 'app.js', args: [], cwd: __dirname },
    listeners: [], generation: 3, workers: undefined, readyTimeout: 1_000, probation, pidFile: undefined, oldPid: process.pid, log, judge, drainTimeout: 4_000,
    spawn: (() => child as unknown as ChildProcess) as never,
    killTree: kill as never,
  });
  const events: Array<[string, ...unknown[]]> = [];
  for (const e of ['started', 'worker-ready', 'serving', 'failed', 'lost', 'moved-on'] as const) a.on(e, (...args: unknown[]) => events.push([e, ...args]));
  return { a, child, kill, events };
}

describe('upgrade protocol units (fake child, fake clock)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 2_000_000 });
  });
  afterEach(() => clock.restore());

  describe('UpgradeAttempt (the old master\'s side)', () => {
    it('forked, ready, serving -> go, then handed over after the probation, with release', () => {
      const { a, child, kill, events } = attempt(500);
      a.start();
      expect(events).to.deep.equal([['started', child.pid]]);
      child.say({ type: 'forked', pid: 1 });
      child.say({ type: 'worker-ready', pid: 1, ready: 1, total: 1 });
      child.say({ type: 'ready', pid: child.pid });
      expect(child.sent.map((m) => m.type)).to.deep.equal(['go']);
      expect(a.phase).to.equal('go');
      child.say({ type: 'serving', pid: child.pid, dropped: ['admin'] });
      expect(events.map((e) => e[0])).to.deep.equal(['started', 'worker-ready']);
      expect([a.phase, a.finished]).to.deep.equal(['probation', false]);
      clock.tick(500);
      expect(events.at(-1)).to.deep.equal(['serving', child.pid, ['admin']]);
      expect([a.phase, a.finished]).to.deep.equal(['serving', true]);
      expect(child.sent.map((m) => m.type)).to.deep.equal(['go', 'release']);
      expect(kill.called).to.equal(false);
      // later: it hands over in turn
      child.say({ type: 'handed-over', pid: 5 });
      expect(events.at(-1)).to.deep.equal(['moved-on', 'handed-over']);
      expect(a.phase).to.equal('released');
    });

    it('the new master exits before serving -> its tree killed, failed with the errors it reported', () => {
      const { a, child, kill, events } = attempt(500);
      a.start();
      child.say({ type: 'forked', pid: 77 });
      child.say({ type: 'error', message: 'SyntaxError: nope' });
      child.emit('exit', 1, null);
      expect(kill.calledOnce).to.equal(true);
      expect([...(kill.firstCall.args[1] as Set<number>)]).to.deep.equal([77]);
      expect(events.at(-1)?.[0]).to.equal('failed');
      expect(events.at(-1)?.[1]).to.equal(`the new master ${child.pid} exited with code 1 before it was serving: SyntaxError: nope`);
      expect(a.phase).to.equal('failed');
    });

    it('readyTimeout -> killed and failed; an exit during probation also fails it', () => {
      const slow = attempt(500);
      slow.a.start();
      clock.tick(999);
      expect(slow.events.map((e) => e[0])).to.deep.equal(['started']);
      clock.tick(1);
      expect(slow.kill.calledOnce).to.equal(true);
      expect(String(slow.events.at(-1)?.[1])).to.match(/was not serving within readyTimeout \(1000 ms\): it said nothing/);

      const shaky = attempt(500);
      shaky.a.start();
      shaky.child.say({ type: 'ready', pid: shaky.child.pid });
      shaky.child.say({ type: 'serving', pid: shaky.child.pid });
      clock.tick(200);
      shaky.child.emit('exit', null, 'SIGSEGV');
      expect(String(shaky.events.at(-1)?.[1])).to.match(/was killed by SIGSEGV during its probation/);
      clock.tick(1_000);
      expect(shaky.events.some((e) => e[0] === 'serving')).to.equal(false);
    });

    it('after the hand-over, the new master dying unannounced is lost (take-back); one that said it stops is not', () => {
      const { a, child, events } = attempt(0);
      a.start();
      child.say({ type: 'ready', pid: child.pid });
      child.say({ type: 'serving', pid: child.pid });
      expect(events.at(-1)?.[0]).to.equal('serving');
      child.emit('exit', null, 'SIGKILL');
      expect(events.at(-1)).to.deep.equal(['lost', `the new master ${child.pid} was killed by SIGKILL after it took over`]);
      expect(a.phase).to.equal('lost');

      const calm = attempt(0);
      calm.a.start();
      calm.child.say({ type: 'ready', pid: calm.child.pid });
      calm.child.say({ type: 'serving', pid: calm.child.pid });
      calm.child.say({ type: 'stopping' });
      calm.child.emit('exit', 1, null);
      expect(calm.events.map((e) => e[0])).to.deep.equal(['started', 'serving', 'moved-on']);
      expect(calm.a.phase).to.equal('released');
    });
  });

  describe('the hand-over\'s phases (lib/upgrade/phases.ts)', () => {
    it('the owner moves only along the table; the ends lead nowhere', () => {
      const h = new HandOver();
      for (const p of ['starting', 'go', 'probation', 'judging', 'serving', 'lost'] as const) h.to(p);
      expect(() => h.to('serving')).to.throw(/hand-over phase lost -> serving is not a transition/);
      expect(() => new HandOver().to('serving')).to.throw(/spawning -> serving/);
      for (const end of ['released', 'lost', 'failed', 'rolled-back'] as const) expect(HAND_OVER[end]).to.deep.equal([]);
      // a roll-back is the canary's only: it needs a verdict
      expect(Object.entries(HAND_OVER).filter(([, next]) => next.includes('rolled-back')).map(([p]) => p)).to.deep.equal(['judging']);
    });

    it('a follower moves through \'go\', which it does not hear, never back', () => {
      const h = new HandOver();
      expect(h.follow('starting')).to.equal(true);
      expect(h.follow('probation')).to.equal(true); // starting -> go -> probation
      expect([h.state, h.inProgress]).to.deep.equal(['probation', true]);
      expect(h.follow('starting')).to.equal(false);
      expect(h.state).to.equal('probation');
      expect(h.follow('serving')).to.equal(true);
      expect(h.inProgress).to.equal(false);
      expect(h.follow('failed')).to.equal(false);
      expect(h.state).to.equal('serving');
    });

    it('an upgrade the canary finds worse ends rolled back (not failed: it drains away)', () => {
      const verdict = { result: 'fail' as const, reason: 'worse' };
      const { a, child } = attempt(100, { begin: () => undefined, verdict: () => verdict });
      a.start();
      child.say({ type: 'ready', pid: child.pid });
      child.say({ type: 'serving', pid: child.pid });
      clock.tick(100);
      expect(a.phase).to.equal('judging');
      child.say({ type: 'tally', tally: toTallyData(emptyTally()) });
      expect(a.phase).to.equal('rolled-back');
    });

    it('the master being replaced under `baton run` follows the same table on the forwarded events', () => {
      const remote = new RemoteUpgrade({ send: () => undefined } as unknown as SupervisorLink);
      remote.emit('started', 7);
      expect(remote.phase).to.equal('starting');
      remote.emit('probation', 7); // no 'go' is forwarded
      expect([remote.phase, remote.finished]).to.deep.equal(['probation', false]);
      remote.emit('tally', 7, {});
      expect(remote.phase).to.equal('judging');
      remote.fail('stopped');
      expect([remote.phase, remote.finished]).to.deep.equal(['failed', true]);
    });
  });

  describe('the canary of an upgrade (lib/upgrade/canary.ts)', () => {
    /** Up to the end of probation; the old master's own generation served `prev` meanwhile. */
    function probationOver(prev: Tally): ReturnType<typeof attempt> {
      let served = emptyTally();
      const u = attempt(500, upgradeJudge(() => served, CANARY_DEFAULTS));
      u.a.start();
      u.child.say({ type: 'ready', pid: u.child.pid });
      u.child.say({ type: 'serving', pid: u.child.pid });
      served = prev;
      clock.tick(500);
      return u;
    }

    it('the reason says what the new master left out as its workers\' warm-up', () => {
      const u = probationOver(tally(100, 0));
      u.child.say({ type: 'tally', tally: toTallyData(tally(35, 15), { ms: 200, responses: 42 }) });
      const reason = 'upgrade rolled back: 5xx 30.0% (15 of 50) vs 0.0% (0 of 100): an excess of at least 12.4% (99% confidence), above maxErrorRate 5.0% in probation (after a 200 ms warm-up, 42 response(s) of the new generation left out)';
      expect(u.child.sent.at(-1)).to.deep.include({ type: 'roll-back', reason });
      // a malformed left is no left
      const v = probationOver(tally(100, 0));
      v.child.say({ type: 'tally', tally: { ...toTallyData(tally(35, 15)), left: { ms: -1, responses: 'x' } } });
      expect(v.child.sent.at(-1)).to.deep.include({ type: 'roll-back', reason: reason.replace(' (after a 200 ms warm-up, 42 response(s) of the new generation left out)', '') });
    });

    it('a worse tally: roll-back (no kill), failed with the figures; killed only if still there drainTimeout + grace later', () => {
      const { a, child, kill, events } = probationOver(tally(100, 0));
      expect(child.sent.map((m) => m.type)).to.deep.equal(['go', 'report']);
      expect(events.some((e) => e[0] === 'serving' || e[0] === 'failed')).to.equal(false);
      child.say({ type: 'tally', tally: toTallyData(tally(35, 15)) });
      const reason = 'upgrade rolled back: 5xx 30.0% (15 of 50) vs 0.0% (0 of 100): an excess of at least 12.4% (99% confidence), above maxErrorRate 5.0% in probation';
      expect(child.sent.at(-1)).to.deep.include({ type: 'roll-back', reason });
      expect(events.at(-1)).to.deep.equal(['failed', reason]);
      expect(kill.called).to.equal(false);
      expect(a.finished).to.equal(true);
      clock.tick(4_000 + ROLLBACK_GRACE - 1);
      expect(kill.called).to.equal(false);
      clock.tick(1);
      expect(kill.calledOnce).to.equal(true);

      // one that exits as asked is not killed
      const calm = probationOver(tally(100, 0));
      calm.child.say({ type: 'tally', tally: toTallyData(tally(35, 15)) });
      calm.child.emit('exit', 0, null);
      clock.tick(4_000 + ROLLBACK_GRACE);
      expect(calm.kill.called).to.equal(false);
    });

    it('a tally as good: promoted (release); no tally within REPORT_TIMEOUT: promoted on crashes alone', () => {
      const good = probationOver(tally(99, 1));
      good.child.say({ type: 'tally', tally: toTallyData(tally(59, 1)) });
      expect(good.child.sent.map((m) => m.type)).to.deep.equal(['go', 'report', 'release']);
      expect(good.events.at(-1)?.[0]).to.equal('serving');

      const mute = probationOver(tally(100, 0));
      clock.tick(REPORT_TIMEOUT - 1);
      expect(mute.events.at(-1)?.[0]).to.equal('started');
      clock.tick(1);
      expect(mute.events.at(-1)?.[0]).to.equal('serving');
      expect(mute.kill.called).to.equal(false);
    });

    it('a malformed tally is no tally (promoted on crashes alone); a well-formed one comes back as it went', () => {
      const empty = { n: 0, sum: 0, b: [] };
      for (const bad of [undefined, null, 3, { codes: {} }, { codes: { '5xx': -1 }, latency: empty }, { codes: { '2xx': 1.5 }, latency: empty }, { codes: {}, latency: { n: 2, sum: 1, b: [0, 1] } }]) {
        expect(fromTallyData(bad), JSON.stringify(bad)).to.equal(undefined);
      }
      const t = tally(26, 4, 7);
      const back = fromTallyData(JSON.parse(JSON.stringify(toTallyData(t))));
      expect(back?.codes).to.deep.equal(t.codes);
      expect(back?.latency.quantile(0.99)).to.equal(t.latency.quantile(0.99));
      const crooked = probationOver(tally(100, 0));
      crooked.child.say({ type: 'tally', tally: { codes: { '5xx': 'many' } } });
      expect(crooked.events.at(-1)?.[0]).to.equal('serving');
    });
  });
});
