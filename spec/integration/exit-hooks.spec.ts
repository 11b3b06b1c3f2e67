// beforeExit(fn): clean-up that finishes before a worker (or master) leaves, bounded by exitTimeout.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIFE_FIXTURE, perTest, running, Server, type Event } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

interface Marker { role: string; pid: number; reason: string; ms: number }

describe('beforeExit (integration)', function () {
  this.timeout(60_000);
  const t = perTest(LIFE_FIXTURE);

  const marker = (pid: number): Marker | undefined => {
    try {
      return JSON.parse(fs.readFileSync(t.dir.file(`exit-${pid}.json`), 'utf8')) as Marker;
    } catch {
      return undefined;
    }
  };
  const exitOf = (pid: number): Promise<Event> => (t.server as Server).waitEvent('worker-exit', 1, 15_000, (e) => e.pid === pid);
  const workerOf = async (master: number, n = 1): Promise<number> => ((await (t.server as Server).waitEvent('worker-ready', n, 15_000, (e) => e.master === master)).pid as number);

  it('a 500 ms clean-up finishes before the worker exits on reload, upgrade and stop; the masters run theirs too', async () => {
    t.server = new Server(t.dir, { EXIT_MODE: 'slow', EXIT_MS: '500', MASTER_EXIT: '1' });
    const s = t.server;
    const port = await s.port();
    await s.waitEvent('serving');
    const first = s.pid;
    const w1 = await workerOf(first);

    process.kill(first, 'SIGHUP');
    await s.waitEvent('reload-succeeded');
    const e1 = await exitOf(w1);
    expect(marker(w1), 'the reloaded-away worker finished its clean-up').to.deep.include({ role: 'worker', reason: 'reloaded' });
    expect(marker(w1)?.ms).to.be.at.least(490);
    expect([e1.code, e1.signal]).to.deep.equal([0, null]);

    const w2 = await workerOf(first, 2);
    t.dir.release({ version: 'v1' });
    process.kill(first, 'SIGUSR2');
    const second = (await s.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    const e2 = await exitOf(w2);
    expect(marker(w2)).to.deep.include({ role: 'worker', reason: 'upgraded' });
    expect([e2.code, e2.signal]).to.deep.equal([0, null]);
    await waitFor('the old master exits', () => s.exitCode !== undefined, 10_000);
    expect(s.exitCode).to.equal(0);
    expect(marker(first), 'the old master ran its beforeExit').to.deep.include({ role: 'master', reason: 'upgraded' });
    expect((await request({ port })).json?.version).to.equal('v1');

    const w3 = await workerOf(second);
    process.kill(second, 'SIGTERM');
    await waitFor('the new master exits', () => !running(second), 10_000);
    expect(marker(w3)).to.deep.include({ role: 'worker', reason: 'SIGTERM' });
    expect(marker(second)).to.deep.include({ role: 'master', reason: 'SIGTERM' });
    expect(running(w3)).to.equal(false);
    expect(s.stderr).to.not.match(/before-exit-(failed|timeout)|worker-killed/);
  });

  it('the master does not SIGKILL a worker inside exitTimeout: a clean-up longer than drainTimeout + 2 s finishes', async () => {
    // before exitTimeout, the master killed a draining worker at drainTimeout + 2 s (here 2.3 s)
    t.server = new Server(t.dir, { EXIT_MODE: 'slow', EXIT_MS: '2800', DRAIN_TIMEOUT: '300', EXIT_TIMEOUT: '5000' });
    const s = t.server;
    await s.waitEvent('serving');
    const w = await workerOf(s.pid);
    process.kill(s.pid, 'SIGTERM');
    const e = await exitOf(w);
    expect([e.code, e.signal]).to.deep.equal([0, null]);
    expect(marker(w)).to.deep.include({ reason: 'SIGTERM' });
    expect(marker(w)?.ms).to.be.at.least(2790);
    await waitFor('master exits', () => s.exitCode !== undefined, 10_000);
    expect(s.exitCode).to.equal(0);
    expect(s.stderr).to.not.match(/worker-killed/);
  });

  it('a worker whose master vanished (SIGKILL) still finishes its clean-up', async () => {
    t.server = new Server(t.dir, { EXIT_MODE: 'slow', EXIT_MS: '500' });
    const s = t.server;
    await s.waitEvent('serving');
    const w = await workerOf(s.pid);
    process.kill(s.pid, 'SIGKILL');
    await waitFor('the orphaned worker exits', () => !running(w), 10_000);
    expect(marker(w)).to.deep.include({ role: 'worker', reason: 'the master is gone' });
  });

  it('a clean-up that hangs is cut at exitTimeout and logged with the worker pid; the worker exits 0 on its own', async () => {
    t.server = new Server(t.dir, { EXIT_MODE: 'hang', EXIT_TIMEOUT: '700' });
    const s = t.server;
    await s.waitEvent('serving');
    const w = await workerOf(s.pid);
    const t0 = Date.now();
    process.kill(s.pid, 'SIGTERM');
    const e = await exitOf(w);
    const took = Date.now() - t0;
    expect([e.code, e.signal]).to.deep.equal([0, null]);
    expect(took).to.be.within(650, 2_600); // the master would have killed it at drainTimeout + exitTimeout + 2 s = 5.7 s
    await waitFor('the before-exit-timeout line', () => s.stderr.includes('before-exit-timeout'), 5_000);
    const line = s.stderr.split('\n').find((l) => l.includes('before-exit-timeout'));
    expect(line).to.match(new RegExp(`baton worker\\[${w}\\] gen=1 error before-exit-timeout: beforeExit #1 \\(pool\\) still running at exitTimeout \\(700 ms\\)`));
    await waitFor('master exits', () => s.exitCode !== undefined, 10_000);
    expect(s.exitCode).to.equal(0);
  });

  it('a clean-up that throws is logged on one line with the worker pid, and the worker exits at once', async () => {
    t.server = new Server(t.dir, { EXIT_MODE: 'throw' });
    const s = t.server;
    await s.waitEvent('serving');
    const w = await workerOf(s.pid);
    process.kill(s.pid, 'SIGHUP');
    await s.waitEvent('reload-succeeded');
    const e = await exitOf(w);
    expect([e.code, e.signal]).to.deep.equal([0, null]);
    // the worker's line reaches the test through the master's stderr pipe: maybe after its exit is seen
    await waitFor('the before-exit-failed line', () => s.stderr.includes('before-exit-failed'), 5_000);
    const line = s.stderr.split('\n').find((l) => l.includes('before-exit-failed'));
    expect(line).to.match(new RegExp(`baton worker\\[${w}\\] gen=1 error before-exit-failed: beforeExit #1 \\(pool\\) failed: Error: the pool is already closed \\| +at `));
  });
});

describe('examples/express-pool.js (integration)', function () {
  this.timeout(60_000);
  const t = perTest(LIFE_FIXTURE);

  it('runs with or without express installed; its pool closes in beforeExit on reload and on stop', async () => {
    const example = path.resolve(__dirname, '../../examples/express-pool.js');
    t.server = new Server(t.dir, { PORT: '0', HOST: '127.0.0.1', WORKERS: '1', BATON_LOG_LEVEL: 'debug' }, { script: example });
    const s = t.server;
    let out = '';
    s.proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // workers are named in the master's debug lines: remember them, so that they are killed too
    s.proc.stderr?.on('data', () => {
      for (const m of s.stderr.matchAll(/forked worker (\d+)/g)) s.pids.add(Number(m[1]));
    });
    const port = Number((await waitFor(`the example's banner\n${s.stderr}`, () => /127\.0\.0\.1:(\d+)\/users\/7/.exec(out)?.[1], 10_000)));
    let express = true;
    try {
      require.resolve('express', { paths: [path.dirname(example)] });
    } catch {
      express = false;
    }
    expect(out).to.contain(express ? '; Express)' : '; node:http, Express is not installed)');
    const r1 = await request({ port }, '/users/7');
    expect(r1.status).to.equal(200);
    const w1 = (r1.json as unknown as { worker: number }).worker;
    expect(JSON.parse(r1.body)).to.deep.include({ id: 7, name: 'user 7' });
    process.kill(s.pid, 'SIGHUP');
    await waitFor('the old worker closed its pool', () => out.includes(`worker ${w1}: pool closed (reloaded)`), 10_000);
    const r2 = await request({ port }, '/users/8');
    const w2 = (r2.json as unknown as { worker: number }).worker;
    expect(w2).to.not.equal(w1);
    process.kill(s.pid, 'SIGTERM');
    await waitFor('the master exits', () => s.exitCode !== undefined, 10_000);
    expect(s.exitCode).to.equal(0);
    expect(out).to.contain(`worker ${w2}: pool closed (SIGTERM)`);
  });
});
