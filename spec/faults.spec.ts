// Faults during an upgrade, under load: each asserts the number of failed requests.
import { expect } from 'chai';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Load, perTest, request, running, Server, waitFor } from './support/harness';

const CLI = path.resolve(__dirname, '../bin/baton.js');

describe('faults during upgrades (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  /**
   * `inTransit`: connections the killed master had accepted but not yet handed to a worker
   * are lost with it (reset), a handful at most; any other failure fails the test.
   */
  async function underLoad(port: number, body: (load: Load) => Promise<void>, inTransit = 0): Promise<void> {
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      await body(load);
      await load.progress(30);
    } finally {
      await load.stop();
    }
    const errors = load.stats.errors;
    if (inTransit === 0) expect(errors, errors.slice(0, 3).join('\n')).to.deep.equal([]);
    else {
      expect(errors.length, errors.join('\n')).to.be.at.most(inTransit);
      for (const e of errors) expect(e).to.match(/ECONNRESET|socket hang up/);
    }
    expect(load.stats.non2xx).to.equal(0);
  }

  it('new master SIGKILLed before it is ready: rollback, the old generation serves, nothing fails', async () => {
    t.server = new Server(t.dir, { START_DELAY: '800' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(t.server!.pid, 'SIGUSR2');
      const started = await t.server!.waitEvent('upgrade-started');
      process.kill(started.pid as number, 'SIGKILL');
      const failed = await t.server!.waitEvent('upgrade-failed', 1, 10_000);
      expect(failed.reason).to.match(/was killed by SIGKILL before it was serving/);
      // its workers were killed too
      await waitFor('no worker of the dead master left', () => t.server!.events
        .filter((e) => e.ev === 'worker-ready' && e.master === started.pid)
        .every((e) => !running(e.pid as number)), 5_000);
    });
    expect(running(t.server.pid)).to.equal(true);
  });

  it('new master SIGSTOPped: rolled back at readyTimeout, the stopped master and its workers killed', async () => {
    t.server = new Server(t.dir, { READY_TIMEOUT: '1500', START_DELAY: '300' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(t.server!.pid, 'SIGUSR2');
      const started = await t.server!.waitEvent('upgrade-started');
      process.kill(started.pid as number, 'SIGSTOP');
      const failed = await t.server!.waitEvent('upgrade-failed', 1, 10_000);
      expect(failed.reason).to.match(/not serving within readyTimeout \(1500 ms\)/);
      await waitFor('stopped master killed', () => !running(started.pid as number), 5_000);
    });
  });

  it('old master SIGKILLed while it drains: its workers finish their requests; only connections in transit fail', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const oldWorkers = t.server.events.filter((e) => e.ev === 'worker-ready').map((e) => e.pid as number);
    await underLoad(port, async (load) => {
      process.kill(t.server!.pid, 'SIGUSR2');
      await t.server!.waitEvent('generation-draining', 1, 15_000);
      process.kill(t.server!.pid, 'SIGKILL');
      await waitFor('old workers gone', () => oldWorkers.every((p) => !running(p)), 10_000);
      await load.progress(30);
    }, 5);
  });

  it('under baton run, a new master SIGKILLed right after it took over is replaced; only connections in transit fail', async () => {
    t.server = new Server(t.dir, {}, { args: [CLI, 'run', 'app.js'] });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(t.server!.pid, 'SIGUSR2');
      const ok = await t.server!.waitEvent('upgrade-succeeded', 1, 15_000);
      process.kill(ok.pid as number, 'SIGKILL');
      await t.server!.waitEvent('serving', 3, 15_000);
    }, 5);
    expect(running(t.server.pid)).to.equal(true);
  });
});

describe('probation: new code whose workers crash right after becoming ready (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  /** Only requests in flight on a crashing worker may fail, and only by a reset. */
  function onlyResets(errors: string[]): void {
    for (const e of errors) expect(e).to.match(/ECONNRESET|socket hang up/);
  }

  it('an upgrade is rolled back: the old master never stopped accepting and keeps serving', async () => {
    const pidFile = t.dir.file('app.pid');
    t.server = new Server(t.dir, { PROBATION: '1500', PID_FILE: pidFile });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      t.dir.release({ version: 'crashy', mode: 'crash-after-ready' });
      process.kill(t.server.pid, 'SIGUSR2');
      const failed = await t.server.waitEvent('upgrade-failed', 1, 15_000);
      expect(failed.reason).to.match(/during its probation \(this master kept accepting all along\)/);
      expect(failed.reason).to.match(/release crashy crashes/);
      expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(t.server.pid));
      expect(fs.existsSync(`${pidFile}.oldbin`)).to.equal(false);
      await load.progress(30);
      t.dir.release({ version: 'good' });
      process.kill(t.server.pid, 'SIGUSR2');
      await t.server.waitEvent('upgrade-succeeded', 1, 15_000);
      await waitFor('good served', () => (load.stats.versions.get('good') ?? 0) > 10, 10_000);
    } finally {
      await load.stop();
    }
    onlyResets(load.stats.errors);
    expect(load.stats.non2xx).to.equal(0);
  });

  it('a reload is rolled back: the old generation, never drained, takes the connections back', async () => {
    t.server = new Server(t.dir, { PROBATION: '1500' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const oldWorkers = t.server.events.filter((e) => e.ev === 'worker-ready').map((e) => e.pid as number);
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      t.dir.release({ version: 'crashy', mode: 'crash-after-ready' });
      process.kill(t.server.pid, 'SIGHUP');
      const failed = await t.server.waitEvent('reload-failed', 1, 15_000);
      expect(failed.reason).to.match(/during probation/);
      await load.progress(50);
      expect(t.server.count('generation-draining')).to.equal(0);
      for (const p of oldWorkers) expect(running(p), `old worker ${p}`).to.equal(true);
    } finally {
      await load.stop();
    }
    onlyResets(load.stats.errors);
    expect((await request({ port })).json?.version).to.equal('v0');
  });
});

describe('more faults and awkward signals (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  it('SIGKILL of a worker under load: it is replaced; only requests in flight on it fail, by a reset, none hangs', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const victim = (await t.server.waitEvent('worker-ready')).pid as number;
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 30_000 });
    try {
      await load.progress(50);
      process.kill(victim, 'SIGKILL');
      await t.server.waitEvent('worker-ready', 3, 10_000);
      await load.progress(50);
    } finally {
      await load.stop();
    }
    // at most the 5 load loops had a request on it; a hang would show as a timeout
    expect(load.stats.errors.length, load.stats.errors.join('\n')).to.be.at.most(5);
    for (const e of load.stats.errors) expect(e).to.match(/ECONNRESET|socket hang up/);
  });

  it('SIGUSR2 and SIGHUP during a stop are refused; the stop completes', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const slow = request({ port }, '/?delay=500');
    await t.server.waitEvent('slow-request');
    process.kill(t.server.pid, 'SIGTERM');
    await t.server.waitEvent('stopping');
    process.kill(t.server.pid, 'SIGUSR2');
    process.kill(t.server.pid, 'SIGHUP');
    expect((await slow).status).to.equal(200);
    await waitFor('master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(0);
    expect(t.server.stderr).to.match(/upgrade refused: the server is stopping/);
    expect(t.server.stderr).to.match(/reload refused: this master is stopping/);
    expect(t.server.count('upgrade-started')).to.equal(0);
  });
});
