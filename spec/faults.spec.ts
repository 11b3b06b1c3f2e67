// Faults during an upgrade, under load: each asserts the number of failed requests.
import { expect } from 'chai';
import * as path from 'node:path';
import { AppDir, Load, running, Server, waitFor } from './support/harness';

const CLI = path.resolve(__dirname, '../bin/baton.js');

describe('faults during upgrades (integration)', function () {
  this.timeout(60_000);
  let dir: AppDir;
  let server: Server | undefined;

  beforeEach(() => {
    dir = new AppDir();
    dir.release({ version: 'v0' });
  });
  afterEach(() => {
    server?.kill();
    server = undefined;
    dir.remove();
  });

  async function underLoad(port: number, body: (load: Load) => Promise<void>): Promise<void> {
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      await body(load);
      await load.progress(30);
    } finally {
      await load.stop();
    }
    expect(load.stats.errors, load.stats.errors.slice(0, 3).join('\n')).to.deep.equal([]);
    expect(load.stats.non2xx).to.equal(0);
  }

  it('new master SIGKILLed before it is ready: rollback, the old generation serves, nothing fails', async () => {
    server = new Server(dir, { START_DELAY: '800' });
    const port = await server.port();
    await server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(server!.pid, 'SIGUSR2');
      const started = await server!.waitEvent('upgrade-started');
      process.kill(started.pid as number, 'SIGKILL');
      const failed = await server!.waitEvent('upgrade-failed', 1, 10_000);
      expect(failed.reason).to.match(/was killed by SIGKILL before it was serving/);
      // its workers were killed too
      await waitFor('no worker of the dead master left', () => server!.events
        .filter((e) => e.ev === 'worker-ready' && e.master === started.pid)
        .every((e) => !running(e.pid as number)), 5_000);
    });
    expect(running(server.pid)).to.equal(true);
  });

  it('new master SIGSTOPped: rolled back at readyTimeout, the stopped master and its workers killed', async () => {
    server = new Server(dir, { READY_TIMEOUT: '1500', START_DELAY: '300' });
    const port = await server.port();
    await server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(server!.pid, 'SIGUSR2');
      const started = await server!.waitEvent('upgrade-started');
      process.kill(started.pid as number, 'SIGSTOP');
      const failed = await server!.waitEvent('upgrade-failed', 1, 10_000);
      expect(failed.reason).to.match(/not serving within readyTimeout \(1500 ms\)/);
      await waitFor('stopped master killed', () => !running(started.pid as number), 5_000);
    });
  });

  it('old master SIGKILLed while it drains: its workers finish their requests, nothing fails', async () => {
    server = new Server(dir);
    const port = await server.port();
    await server.waitEvent('serving');
    const oldWorkers = server.events.filter((e) => e.ev === 'worker-ready').map((e) => e.pid as number);
    await underLoad(port, async (load) => {
      process.kill(server!.pid, 'SIGUSR2');
      await server!.waitEvent('generation-draining', 1, 15_000);
      process.kill(server!.pid, 'SIGKILL');
      await waitFor('old workers gone', () => oldWorkers.every((p) => !running(p)), 10_000);
      await load.progress(30);
    });
  });

  it('under baton run, a new master SIGKILLed right after it took over is replaced; nothing fails', async () => {
    server = new Server(dir, {}, { args: [CLI, 'run', 'app.js'] });
    const port = await server.port();
    await server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(server!.pid, 'SIGUSR2');
      const ok = await server!.waitEvent('upgrade-succeeded', 1, 15_000);
      process.kill(ok.pid as number, 'SIGKILL');
      await server!.waitEvent('serving', 3, 15_000);
    });
    expect(running(server.pid)).to.equal(true);
  });
});
