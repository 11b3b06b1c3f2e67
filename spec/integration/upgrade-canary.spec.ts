// The canary of an upgrade, end to end: real masters, workers, sockets and signals. At the end
// of the new master's probation the old master judges the new master's tally against its own
// generation's (lib/upgrade/canary.ts); a worse release is rolled back by a drain (no request
// cut), and the old master keeps the pid file and the control socket.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { cli } from '../support/cli';
import * as path from 'node:path';
import { Load, perTest, Server } from '../support/harness';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

const CLI = path.resolve(__dirname, '../../bin/baton.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('upgrade canary (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  async function start(env: Record<string, string> = {}, how: ConstructorParameters<typeof Server>[2] = {}): Promise<{ server: Server; port: number; pidFile: string }> {
    const pidFile = t.dir.file('app.pid');
    const server = new Server(t.dir, { WORKERS: '2', PROBATION: '2000', MIN_REQUESTS: '20', PID_FILE: pidFile, ...env }, how);
    t.server = server;
    await server.waitEvent('serving');
    return { server, port: await server.port(), pidFile };
  }

  it('a release that answers 500 to 30 % of requests is rolled back on upgrade with the figures; the old master serves throughout, `baton upgrade` says why, `baton status` answers from the old master', async () => {
    const { server, port, pidFile } = await start();
    const load = new Load({ port }, { keepAlive: 4, fresh: 2, maxMs: 30_000, maxRequests: 30_000 });
    let newPid = 0;
    try {
      await load.progress(50);
      t.dir.release({ version: 'v1', errors: 3 });
      const up = await cli(['upgrade', '--pid-file', pidFile]);
      const failed = await server.waitEvent('upgrade-failed', 1, 15_000);
      expect(failed.reason).to.match(/^upgrade rolled back: 5xx \d+\.\d% \(\d+ of \d+\) vs 0\.0% \(0 of \d+\): an excess of at least \d+\.\d% \(99% confidence\), above maxErrorRate 5\.0% in probation \(after a \d+ ms warm-up, \d+ response\(s\) of the new generation left out\)$/);
      const share = Number(/5xx (\d+\.\d)%/.exec(String(failed.reason))?.[1]);
      expect(share).to.be.within(20, 40);
      expect(up.code).to.equal(1);
      expect(up.stderr).to.contain(`upgrade failed: ${String(failed.reason)}`);
      expect(server.count('upgrade-succeeded')).to.equal(0);
      newPid = Number((await server.waitEvent('upgrade-started')).pid);
      // the new master drained (its generation drained: nothing killed) and exited
      await server.waitEvent('stopping', 1, 5_000, (e) => e.master === newPid);
      expect(String(server.events.find((e) => e.ev === 'stopping' && e.master === newPid)?.reason)).to.equal(String(failed.reason));
      await server.waitEvent('generation-drained', 1, 10_000, (e) => e.master === newPid);
      await waitFor('the rolled-back master to exit', () => !alive(newPid), 10_000);
      // the old master takes every new connection again, and is the one the pid file and the CLI name
      await load.progress(100);
      const after = await request({ port });
      expect(after.status).to.equal(200);
      expect(after.json?.version).to.equal('v0');
      const status = await cli(['status', '--json', '--pid-file', pidFile]);
      expect(status.code, status.stderr).to.equal(0);
      expect((JSON.parse(status.stdout) as { status: { master: { pid: number } } }).status.master.pid).to.equal(server.pid);
      expect(Number(fs.readFileSync(pidFile, 'utf8').trim())).to.equal(server.pid);
      // baton history: both sides, the new master's as it said it ran
      const history = await cli(['history', '--json', '--pid-file', pidFile]);
      const records = history.stdout.trim().split('\n').map((l) => JSON.parse(l) as { result: string; reason: string; from: unknown; to: unknown });
      expect(records).to.have.length(1);
      expect(records[0]).to.deep.include({ result: 'rolled_back', reason: failed.reason });
      const release = fs.realpathSync(t.dir.dir);
      expect(records[0]?.from).to.deep.equal({ release, node: process.version, generation: 1, pid: server.pid });
      expect(records[0]?.to).to.deep.equal({ release, node: process.version, generation: 2, pid: newPid });
    } finally {
      const stats = await load.stop();
      // nothing failed: the only non-2xx answers are the bad release's own 500s
      expect(stats.errors).to.deep.equal([]);
      expect(stats.non2xx).to.be.greaterThan(0);
    }
    expect(alive(server.pid)).to.equal(true);
  });

  it('a healthy release under the same load is promoted', async () => {
    const { server, port, pidFile } = await start();
    const load = new Load({ port }, { keepAlive: 4, fresh: 2, maxMs: 30_000, maxRequests: 30_000 });
    try {
      await load.progress(50);
      t.dir.release({ version: 'v1' });
      const up = await cli(['upgrade', '--pid-file', pidFile]);
      expect(up.code, up.stderr).to.equal(0);
      await server.waitEvent('upgrade-succeeded', 1, 15_000);
      const newPid = Number(up.stdout.trim());
      await load.progress(100);
      await waitFor('v1 to answer', async () => (await request({ port })).json?.version === 'v1', 10_000);
      const status = await cli(['status', '--json', '--pid-file', pidFile]);
      expect((JSON.parse(status.stdout) as { status: { master: { pid: number } } }).status.master.pid).to.equal(newPid);
    } finally {
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
      expect(stats.non2xx).to.equal(0);
    }
  });

  it('no false alarm: 20 healthy upgrades in a row under load are judged on their figures (16 at least) and promoted', async function () {
    this.timeout(150_000);
    const { server, port } = await start({ PROBATION: '1000' });
    const load = new Load({ port }, { keepAlive: 4, fresh: 2, maxMs: 120_000, maxRequests: 400_000 });
    try {
      await load.progress(50);
      let master = server.pid;
      for (let i = 1; i <= 20; i++) {
        t.dir.release({ version: `h${i}` });
        process.kill(master, 'SIGUSR2');
        master = (await server.waitEvent('upgrade-succeeded', i, 15_000)).pid as number;
        await waitFor(`h${i} to answer`, async () => (await request({ port })).json?.version === `h${i}`, 10_000);
      }
    } finally {
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
      expect(stats.non2xx).to.equal(0);
    }
    const verdicts = server.stderr.split('\n').filter((l) => / info canary: new master \d+: /.test(l));
    expect(verdicts, 'a verdict per upgrade').to.have.length(20);
    // none failed; each judged on its figures (enough requests), but for a few a starved machine
    // gave too few responses in the 1 s probation ('not-enough': judged on crashes alone, promoted)
    expect(verdicts.filter((l) => !/: (pass|not-enough): /.test(l)), verdicts.join('\n')).to.deep.equal([]);
    expect(verdicts.filter((l) => /: pass: /.test(l)), verdicts.join('\n')).to.have.length.of.at.least(16);
    expect(server.count('upgrade-failed')).to.equal(0);
  });

  it('under `baton run` the supervisor runs the attempt and the old master judges: a 30 % 500 release is rolled back, a healthy one then promoted', async () => {
    const { server, port, pidFile } = await start({}, { args: [CLI, 'run', 'app.js'] });
    const supervisor = server.pid;
    const old = server.servingMaster();
    const load = new Load({ port }, { keepAlive: 4, fresh: 2, maxMs: 40_000, maxRequests: 40_000 });
    try {
      await load.progress(50);
      t.dir.release({ version: 'v1', errors: 3 });
      process.kill(supervisor, 'SIGUSR2');
      const failed = await server.waitEvent('upgrade-failed', 1, 15_000);
      expect(failed.master).to.equal(old);
      expect(failed.reason).to.match(/^upgrade rolled back: 5xx \d+\.\d% \(\d+ of \d+\) vs 0\.0% \(0 of \d+\): an excess of at least \d+\.\d% \(99% confidence\), above maxErrorRate 5\.0% in probation \(after a \d+ ms warm-up, \d+ response\(s\) of the new generation left out\)$/);
      const newPid = Number((await server.waitEvent('upgrade-started')).pid);
      await server.waitEvent('generation-drained', 1, 10_000, (e) => e.master === newPid);
      await waitFor('the rolled-back master to exit', () => !alive(newPid), 10_000);
      expect(Number(fs.readFileSync(pidFile, 'utf8').trim())).to.equal(old);
      const status = await cli(['status', '--json', '--pid-file', pidFile]);
      expect(status.code, status.stderr).to.equal(0);
      expect((JSON.parse(status.stdout) as { status: { master: { pid: number } } }).status.master.pid).to.equal(old);

      t.dir.release({ version: 'v2' });
      process.kill(supervisor, 'SIGUSR2');
      const ok = await server.waitEvent('upgrade-succeeded', 1, 15_000);
      expect(ok.master).to.equal(old);
      await waitFor('v2 to answer', async () => (await request({ port })).json?.version === 'v2', 10_000);
      // the history's `to` side came through the bridge too
      const history = await cli(['history', '--json', '--pid-file', pidFile]);
      const records = history.stdout.trim().split('\n').map((l) => JSON.parse(l) as { result: string; to?: { pid?: number; node: string } });
      expect(records.map((r) => r.result)).to.deep.equal(['rolled_back', 'succeeded']);
      expect(records[0]?.to).to.deep.include({ pid: newPid, node: process.version });
      expect(records[1]?.to).to.deep.include({ pid: ok.pid, node: process.version });
    } finally {
      const stats = await load.stop();
      expect(stats.errors).to.deep.equal([]);
    }
    expect(alive(supervisor)).to.equal(true);
  });
});
