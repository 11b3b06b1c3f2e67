// Signals at the master and at awkward moments, with real processes.
import { expect } from 'chai';
import { Load, perTest, running, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

describe('signals (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  it('Ctrl-C (SIGINT to the whole process group) is a graceful stop: the in-flight request finishes', async () => {
    t.server = new Server(t.dir, {}, { ownGroup: true });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const slow = request({ port }, '/?delay=600');
    await t.server.waitEvent('slow-request');
    process.kill(-t.server.pid, 'SIGINT');
    expect((await slow).status).to.equal(200);
    await waitFor('master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(0);
    // the workers got the SIGINT too: none was replaced during the stop
    expect(t.server.count('worker-ready')).to.equal(2);
  });

  it('a second SIGTERM stops at once, without waiting for the drain', async () => {
    t.server = new Server(t.dir, { DRAIN_TIMEOUT: '20000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const workers = t.server.events.filter((e) => e.ev === 'worker-ready').map((e) => e.pid as number);
    const slow = request({ port }, '/?delay=15000').catch((err: Error) => err);
    await t.server.waitEvent('slow-request');
    process.kill(t.server.pid, 'SIGTERM');
    await t.server.waitEvent('stopping');
    const t0 = Date.now();
    process.kill(t.server.pid, 'SIGTERM');
    await waitFor('master exit', () => t.server?.exitCode !== undefined, 5_000);
    expect(Date.now() - t0).to.be.lessThan(3_000);
    expect(t.server.exitCode).to.equal(1);
    await waitFor('workers gone', () => workers.every((p) => !running(p)), 5_000);
    expect(await slow).to.be.instanceOf(Error);
  });

  it('a worker that dies is replaced in its generation while the others serve', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const victim = (await t.server.waitEvent('worker-ready')).pid as number;
    process.kill(victim, 'SIGKILL');
    const exit = await t.server.waitEvent('worker-exit', 1, 5_000);
    expect(exit.pid).to.equal(victim);
    expect(exit.expected).to.equal(false);
    const replacement = await t.server.waitEvent('worker-ready', 3, 5_000);
    expect(replacement.generation).to.equal(1);
    const replies = await Promise.all(Array.from({ length: 10 }, () => request({ port })));
    expect(replies.map((r) => r.status)).to.deep.equal(Array(10).fill(200));
  });

  it('a reload whose workers cannot start is rolled back: the old generation serves throughout', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = new Load({ port }, { keepAlive: 2, fresh: 1, maxMs: 20_000 });
    try {
      await load.progress(20);
      t.dir.release({ version: 'broken', mode: 'worker-throws' });
      process.kill(t.server.pid, 'SIGHUP');
      const failed = await t.server.waitEvent('reload-failed', 1, 10_000);
      expect(failed.reason).to.match(/release broken: worker cannot start/);
      await load.progress(20);
      t.dir.release({ version: 'fixed' });
      process.kill(t.server.pid, 'SIGHUP');
      await t.server.waitEvent('reload-succeeded', 1, 10_000);
      await waitFor('fixed served', () => (load.stats.versions.get('fixed') ?? 0) > 5, 10_000);
    } finally {
      await load.stop();
    }
    expect(load.stats.errors, load.stats.errors.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(load.stats.versions.get('broken') ?? 0).to.equal(0);
  });

  it('a reload whose workers never become ready fails at readyTimeout; their workers are killed, the old generation serves', async () => {
    // readyTimeout also bounds the first start, which a busy machine stretched past 1 s
    t.server = new Server(t.dir, { READY_TIMEOUT: '3000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    t.dir.release({ version: 'stuck', mode: 'never-ready' });
    process.kill(t.server.pid, 'SIGHUP');
    const failed = await t.server.waitEvent('reload-failed', 1, 12_000);
    expect(failed.reason).to.equal('not ready within readyTimeout (3000 ms)');
    await waitFor('its 2 workers killed', () => t.server!.events.filter((e) => e.ev === 'worker-exit' && e.generation === failed.generation).length === 2, 5_000);
    expect((await request({ port })).json?.version).to.equal('v0');
  });

  it('SIGHUP during an upgrade and SIGUSR2 during a reload are refused with a log line', async () => {
    t.server = new Server(t.dir, { START_DELAY: '500' });
    await t.server.waitEvent('serving');
    process.kill(t.server.pid, 'SIGUSR2');
    await t.server.waitEvent('upgrade-started');
    process.kill(t.server.pid, 'SIGHUP');
    await waitFor('reload refused', () => /reload refused: an upgrade is in progress/.test(t.server?.stderr ?? ''), 5_000);
    const up = await t.server.waitEvent('upgrade-succeeded', 1, 10_000);
    const m2 = up.pid as number;
    await waitFor('m2 serving', () => t.server?.events.some((e) => e.ev === 'serving' && e.master === m2), 5_000);
    process.kill(m2, 'SIGHUP');
    await t.server.waitEvent('reload-started');
    process.kill(m2, 'SIGUSR2');
    await waitFor('upgrade refused', () => /upgrade refused: a reload is in progress/.test(t.server?.stderr ?? ''), 5_000);
    await t.server.waitEvent('reload-succeeded', 1, 10_000);
    expect(t.server.count('upgrade-started')).to.equal(1);
  });

  it('SIGTERM during an upgrade: the new master is stopped, the old one drains, nothing is left running', async () => {
    t.server = new Server(t.dir, { START_DELAY: '1500' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    process.kill(t.server.pid, 'SIGUSR2');
    const started = await t.server.waitEvent('upgrade-started');
    const slow = request({ port }, '/?delay=400');
    await t.server.waitEvent('slow-request');
    process.kill(t.server.pid, 'SIGTERM');
    expect((await slow).status).to.equal(200);
    await waitFor('master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(0);
    await waitFor('everything gone', () => [...(t.server?.pids ?? [])].every((p) => !running(p)), 5_000);
    expect(running(started.pid as number)).to.equal(false);
  });
});
