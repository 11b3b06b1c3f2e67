// Both halves of the hand-over that live in a master, without processes: the new master's
// channel to the old one (Predecessor) over a fake parent channel, and the take-back
// (TakeBack) over fake generations, once the kept sockets accept again (or cannot); on sinon's fake clock.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sinon from 'sinon';
import { Predecessor } from '../../../lib/upgrade/predecessor';
import { TakeBack } from '../../../lib/upgrade/take-back';
import type { StartContext, WorkerExec } from '../../../lib/os/relaunch';
import type { Generation } from '../../../lib/pool/generation';
import { Logger } from '../../../lib/log/log';
import { msg } from '../../../lib/messages';
import { removeDir, tempDir } from '../../support/unit';
import { FakeParent } from '../../support/fakes/channel';
import { FakeGeneration } from '../../support/fakes/generation';

const log = new Logger('master', 1, 'silent');

describe('the hand-over inside a master (fake channels, fake clock)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 3_000_000 });
  });
  afterEach(() => clock.restore());

  describe('Predecessor (the new master\'s side)', () => {
    it('asks the old master to say go when it has one, and follows go', () => {
      const parent = new FakeParent();
      const p = new Predecessor(1_000, parent);
      const go = sinon.spy();
      p.on('go', go);
      p.watch();
      expect(p.askToGo()).to.equal(true);
      expect(parent.sent).to.deep.equal([msg({ type: 'ready', pid: process.pid })]);
      parent.emit('message', { type: 'go' }); // not a baton message: ignored
      expect(go.called).to.equal(false);
      parent.say({ type: 'go' });
      expect(go.calledOnce).to.equal(true);
    });

    it('without an old master (disconnected) it does not ask, and sends nothing', () => {
      const parent = new FakeParent();
      parent.connected = false;
      const p = new Predecessor(1_000, parent);
      expect(p.askToGo()).to.equal(false);
      p.send({ type: 'serving', pid: 1, dropped: [] });
      expect(parent.sent).to.deep.equal([]);
    });

    it('its first generation is on probation until the release, or for its ms', () => {
      const parent = new FakeParent();
      const p = new Predecessor(1_000, parent);
      p.watch();
      p.probation.begin();
      clock.tick(999);
      expect(p.probation.active).to.equal(true);
      parent.say({ type: 'release' });
      expect(p.probation.active, 'released: the old master has handed over').to.equal(false);

      p.probation.begin();
      clock.tick(1_000);
      expect(p.probation.active, 'over by itself').to.equal(false);
    });

    it('the old master going away ends the probation (nobody to roll back to) and says gone', () => {
      const parent = new FakeParent();
      const p = new Predecessor(60_000, parent);
      const gone = sinon.spy();
      p.on('gone', gone);
      p.watch();
      p.probation.begin();
      expect(p.probation.active).to.equal(true);
      parent.connected = false;
      parent.emit('disconnect');
      expect(p.probation.active).to.equal(false);
      expect(gone.calledOnce).to.equal(true);
    });

    it('a channel that throws as it closes is swallowed', () => {
      const parent = new FakeParent();
      parent.throws = true;
      const p = new Predecessor(0, parent);
      expect(() => p.send({ type: 'stopping' })).not.to.throw();
      expect(() => p.askToGo()).not.to.throw();
    });
  });

  describe('TakeBack (the old master serves again)', () => {
    let dir: string;
    let start: StartContext;
    let current: string;
    let previous: string;
    beforeEach(() => {
      dir = tempDir('baton-takeback-');
      current = path.join(dir, 'app.js');
      previous = path.join(dir, 'old-app.js');
      fs.writeFileSync(current, '');
      fs.writeFileSync(previous, '');
      start = { argv0: 'node', execArgv: [], argv: [process.execPath, current], cwd: dir, typedScript: 'app.js' };
    });
    afterEach(() => removeDir(dir));

    function setup(o: { loaded?: WorkerExec | undefined } = {}) {
      const old = new FakeGeneration(4, undefined, 'loaded' in o ? o.loaded : { script: previous, args: [], cwd: dir });
      const gens: FakeGeneration[] = [];
      const master = { state: 'starting' };
      const t = new TakeBack({
        start, log, wanted: () => master.state === 'starting',
        old: old as unknown as Generation,
        newGeneration: (exec) => {
          const g = new FakeGeneration(10 + gens.length, exec);
          gens.push(g);
          return g as unknown as Generation;
        },
      });
      const events: Array<[string, unknown]> = [];
      t.on('ready', (g) => events.push(['ready', g]));
      t.on('failed', (why) => events.push(['failed', why]));
      return { t, gens, events, master };
    }

    it('once the kept sockets accept again (and not before), serves with the release its own workers ran', async () => {
      const { t, gens, events } = setup();
      let listening = (): void => undefined;
      const running = t.run(new Promise<void>((resolve) => (listening = resolve)));
      await Promise.resolve();
      expect(gens, 'nothing before the sockets accept').to.deep.equal([]);
      listening();
      await running;
      expect(gens).to.have.length(1);
      expect(gens[0]?.exec?.script).to.equal(previous);
      expect(gens[0]?.started).to.equal(true);
      expect(events).to.deep.equal([]);
      gens[0]?.emit('ready');
      expect(events).to.deep.equal([['ready', gens[0]]]);
      gens[0]?.emit('failed', 'late'); // after ready: nothing more
      expect(events).to.have.length(1);
    });

    it('that release failing, it tries the current one; that failing too, it fails', async () => {
      const { t, gens, events } = setup();
      await t.run(Promise.resolve());
      gens[0]?.emit('failed', 'worker exited with code 1');
      expect(gens[0]?.aborted).to.equal(true);
      expect(gens).to.have.length(2);
      expect(gens[1]?.exec, 'the current release, through the symlinks').to.equal(undefined);
      gens[1]?.emit('failed', 'readyTimeout');
      expect(events).to.deep.equal([['failed', 'generation 11 could not start: readyTimeout']]);
      expect(gens).to.have.length(2);
    });

    it('when its own release is the current one, or gone, one attempt only', async () => {
      const same = setup({ loaded: { script: fs.realpathSync(current), args: [], cwd: dir } });
      await same.t.run(Promise.resolve());
      same.gens[0]?.emit('failed', 'boom');
      expect(same.gens).to.have.length(1);
      expect(same.events).to.deep.equal([['failed', 'generation 10 could not start: boom']]);

      const gone = setup({ loaded: undefined });
      await gone.t.run(Promise.resolve());
      expect(gone.gens[0]?.exec).to.equal(undefined);
      gone.gens[0]?.emit('ready');
      expect(gone.events).to.deep.equal([['ready', gone.gens[0]]]);
    });

    it('fails when the sockets cannot be listened on again', async () => {
      const { t, gens, events } = setup();
      await t.run(Promise.reject(new Error('cannot accept on unix:/x.sock again')));
      expect(gens).to.deep.equal([]);
      expect(events).to.deep.equal([['failed', 'cannot listen again: cannot accept on unix:/x.sock again']]);
    });

    it('no longer wanted (the master stops), it reports nothing', async () => {
      const before = setup();
      before.master.state = 'stopping';
      await before.t.run(Promise.resolve());
      expect(before.gens, 'nothing started').to.deep.equal([]);

      const during = setup();
      await during.t.run(Promise.resolve());
      during.master.state = 'stopping';
      during.gens[0]?.emit('ready');
      during.gens[0]?.emit('failed', 'x');
      expect(during.events).to.deep.equal([]);
    });
  });
});
