// SIGUSR2 upgrades and SIGHUP reloads under load, with real processes and sockets.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { Load, perTest, running, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

/** The early-error preloads of upgrades (lib/upgrade/early.ts) in a test's own temp directory (its processes' TMPDIR). */
function earlyDirs(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((f) => f.startsWith('baton-early-'));
}

describe('upgrade and reload under load (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  it('5 consecutive SIGUSR2 upgrades, each with new code: every request succeeds, old masters go, the pid file follows', async () => {
    const pidFile = t.dir.file('app.pid');
    t.server = new Server(t.dir, { PID_FILE: pidFile });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(t.server.pid));
    const load = new Load({ port }, { keepAlive: 4, fresh: 2, maxMs: 50_000 });
    try {
      await load.progress(50);
      let master = t.server.pid;
      for (let i = 1; i <= 5; i++) {
        t.dir.release({ version: `v${i}` });
        process.kill(master, 'SIGUSR2');
        const ok = await t.server.waitEvent('upgrade-succeeded', i, 15_000);
        expect(ok.master).to.equal(master);
        const next = ok.pid as number;
        // the new code serves
        await waitFor(`v${i} served`, () => (load.stats.versions.get(`v${i}`) ?? 0) > 20, 10_000);
        // the old master and its workers leave; the pid file names the new master
        await waitFor(`old master ${master} gone`, () => !running(master), 10_000);
        expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(next));
        await waitFor('no .oldbin left', () => !fs.existsSync(`${pidFile}.oldbin`), 5_000);
        master = next;
      }
      await load.progress(50);
      const reply = await request({ port });
      expect(reply.json?.version).to.equal('v5');
      expect(reply.json?.generation).to.equal(6);
      // the early-error preload never reaches the app's environment
      expect(reply.json?.nodeOptions).to.equal(undefined);
      expect(earlyDirs(t.dir.tmp)).to.deep.equal([]);
    } finally {
      await load.stop();
    }
    const s = load.stats;
    expect(s.errors, s.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(s.non2xx).to.equal(0);
    expect(s.ok).to.be.greaterThan(200);
    // every worker of every old generation exited
    const drained = t.server.events.filter((e) => e.ev === 'generation-drained').map((e) => e.generation);
    expect(drained).to.have.members([1, 2, 3, 4, 5]);
    for (const e of t.server.events.filter((x) => x.ev === 'worker-ready' && (x.generation as number) < 6)) {
      expect(running(e.pid as number), `worker ${e.pid} of generation ${e.generation}`).to.equal(false);
    }
  });

  it('a master serves only once every worker of its generation is ready, at start and after an upgrade (one worker starts 800 ms later)', async () => {
    t.server = new Server(t.dir, { START_DELAY: '50', STAGGER_MS: '800' });
    const port = await t.server.port();
    const server = t.server;
    /** The events of `master` in the order it emitted them (one process writes them in order). */
    const of = (master: number): string[] => server.events.filter((e) => e.master === master).map((e) => `${e.ev}${e.generation !== undefined ? ` ${e.generation}` : ''}`);
    const servedAfterItsWorkers = (master: number, generation: number): void => {
      const seq = of(master);
      const serving = seq.indexOf(`serving ${generation}`);
      expect(serving, seq.join(', ')).to.be.greaterThan(-1);
      expect(seq.slice(0, serving).filter((e) => e === `worker-ready ${generation}`), seq.join(', ')).to.have.length(2);
      expect(server.stderr).to.match(new RegExp(`master\\[${master}\\] gen=${generation} info serving: generation ${generation} serving with 2 worker\\(s\\)`));
    };
    await server.waitEvent('serving');
    servedAfterItsWorkers(server.pid, 1);
    // an upgrade: the new master says it is ready (and accepts) only once both are
    t.dir.release({ version: 'v1' });
    process.kill(server.pid, 'SIGUSR2');
    const next = (await server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    servedAfterItsWorkers(next, 2);
    expect((await request({ port })).json?.version).to.equal('v1');
  });

  it('5 consecutive SIGHUP reloads load the new code in the same master with no failed request', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = new Load({ port }, { keepAlive: 4, fresh: 2, maxMs: 50_000 });
    try {
      await load.progress(50);
      for (let i = 1; i <= 5; i++) {
        t.dir.release({ version: `r${i}` });
        process.kill(t.server.pid, 'SIGHUP');
        const ok = await t.server.waitEvent('reload-succeeded', i, 15_000);
        expect(ok.generation).to.equal(i + 1);
        await waitFor(`r${i} served`, () => (load.stats.versions.get(`r${i}`) ?? 0) > 20, 10_000);
        await t.server.waitEvent('generation-drained', i, 10_000);
      }
    } finally {
      await load.stop();
    }
    const s = load.stats;
    expect(s.errors, s.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(s.non2xx).to.equal(0);
    expect(running(t.server.pid)).to.equal(true);
    expect(t.server.events.filter((e) => e.ev === 'serving').map((e) => e.master)).to.deep.equal([t.server.pid]);
  });

  it('a failed upgrade (new code throws; never ready) leaves the old generation serving; a corrected one succeeds', async () => {
    const pidFile = t.dir.file('app.pid');
    // long enough for the good release to be ready on a busy machine (1500 ms was not, at a load of 7 to 10)
    t.server = new Server(t.dir, { PID_FILE: pidFile, READY_TIMEOUT: '4000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);

      t.dir.release({ version: 'bad1', mode: 'throw' });
      process.kill(t.server.pid, 'SIGUSR2');
      const f1 = await t.server.waitEvent('upgrade-failed', 1, 10_000);
      expect(f1.reason).to.match(/exited with code 1/).and.to.match(/release bad1 is broken: thrown at start-up/);
      expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(t.server.pid));
      expect(fs.existsSync(`${pidFile}.oldbin`)).to.equal(false);
      await load.progress(30);

      t.dir.release({ version: 'bad2', mode: 'never-ready' });
      process.kill(t.server.pid, 'SIGUSR2');
      const started = await t.server.waitEvent('upgrade-started', 2, 5_000);
      const f2 = await t.server.waitEvent('upgrade-failed', 2, 10_000);
      expect(f2.reason).to.match(/not serving within readyTimeout \(4000 ms\)/);
      // the new master and its workers were killed
      await waitFor('failed new master gone', () => !running(started.pid as number), 5_000);
      const stuck = t.server.events.filter((e) => e.ev === 'worker-ready' && e.master === started.pid);
      expect(stuck).to.deep.equal([]);
      await load.progress(30);

      // a syntax error in the entry file: it dies before baton loads; its error is on stderr
      const good = fs.readFileSync(t.dir.app, 'utf8');
      fs.writeFileSync(t.dir.app, `${good}\n}}} syntax error (`);
      process.kill(t.server.pid, 'SIGUSR2');
      const f3 = await t.server.waitEvent('upgrade-failed', 3, 10_000);
      expect(f3.reason).to.match(/exited with code 1 before it was serving/);
      // reported by the preload the old master gave it, though baton never loaded
      expect(f3.reason).to.match(/SyntaxError: Unexpected token/);
      fs.writeFileSync(t.dir.app, good);
      await load.progress(30);

      t.dir.release({ version: 'good' });
      process.kill(t.server.pid, 'SIGUSR2');
      await t.server.waitEvent('upgrade-succeeded', 1, 15_000);
      await waitFor('good served', () => (load.stats.versions.get('good') ?? 0) > 10, 10_000);
    } finally {
      await load.stop();
    }
    const s = load.stats;
    expect(s.errors, s.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(s.non2xx).to.equal(0);
    expect(s.versions.get('bad1') ?? 0).to.equal(0);
    expect(s.versions.get('bad2') ?? 0).to.equal(0);
  });
});
