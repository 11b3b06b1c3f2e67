// The bridge of `baton run` (lib/supervisor/bridge.ts): the upgrade's events over the supervisor's channel and back.
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { forwardUpgrade, readVerdict, upgradeEvent, verdictMessage } from '../../../lib/supervisor/bridge';
import { RemoteUpgrade, type SupervisorLink } from '../../../lib/supervisor/supervised';
import { type ToMaster } from '../../../lib/messages';

describe('the bridge of `baton run`', () => {
  it('every forwarded event comes back as the same event on the master\'s side', () => {
    const source = new EventEmitter();
    const wire: ToMaster[] = [];
    forwardUpgrade(source as never, (m) => wire.push(m));
    source.emit('started', 7);
    source.emit('worker-ready', 7, 1, 2);
    source.emit('serving', 7, ['old']);
    expect(wire).to.deep.equal([
      { type: 'upgrade-started', pid: 7 },
      { type: 'upgrade-worker-ready', pid: 7, ready: 1, total: 2 },
      { type: 'upgrade-serving', pid: 7, dropped: ['old'] },
    ]);
    const remote = new RemoteUpgrade({ send: () => undefined } as unknown as SupervisorLink);
    const seen: unknown[][] = [];
    for (const e of ['started', 'worker-ready', 'serving', 'failed'] as const) remote.on(e, (...args: unknown[]) => seen.push([e, ...args]));
    for (const m of wire) {
      const e = upgradeEvent(m);
      if (e) (remote.emit as (ev: string, ...a: unknown[]) => boolean)(e.event, ...e.args);
    }
    expect(seen).to.deep.equal([['started', 7], ['worker-ready', 7, 1, 2], ['serving', 7, ['old']]]);
    expect(remote.pid).to.equal(7);
    expect(remote.finished).to.equal(true);
    // an older supervisor's serving without `dropped`, a refusal, and a message that is no upgrade event
    expect(upgradeEvent({ type: 'upgrade-serving', pid: 8 })).to.deep.equal({ event: 'serving', args: [8, []] });
    expect(upgradeEvent({ type: 'upgrade-refused', reason: 'busy' })).to.deep.equal({ event: 'failed', args: ['busy'] });
    expect(upgradeEvent({ type: 'stop' })).to.equal(undefined);
  });

  it('the canary both ways: the tally as an event on the master\'s side, the verdict back to the supervisor (checked)', () => {
    const source = new EventEmitter();
    const wire: ToMaster[] = [];
    forwardUpgrade(source as never, (m) => wire.push(m));
    source.emit('tally', 7, { codes: { '2xx': 3 } });
    expect(wire).to.deep.equal([{ type: 'upgrade-tally', pid: 7, tally: { codes: { '2xx': 3 } } }]);
    expect(upgradeEvent(wire[0] as ToMaster)).to.deep.equal({ event: 'tally', args: [7, { codes: { '2xx': 3 } }] });
    const v = { result: 'fail' as const, reason: '5xx 30.0% (15 of 50) vs 0.0% (0 of 100) in probation' };
    const m = JSON.parse(JSON.stringify(verdictMessage(7, v))) as { verdict?: unknown };
    expect(readVerdict(m)).to.deep.equal(v);
    expect(readVerdict(JSON.parse(JSON.stringify(verdictMessage(7, undefined))) as { verdict?: unknown })).to.equal(undefined);
    expect(readVerdict({ verdict: { result: 'maybe', reason: 'x' } })).to.equal(undefined);
    expect(readVerdict({ verdict: { result: 'fail' } })).to.equal(undefined);
  });
});
