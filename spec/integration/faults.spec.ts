// Faults during an upgrade, under load: each asserts the number of failed requests.
import { expect } from 'chai';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Load, perTest, running, Server } from '../support/harness';
import { request, type Reply } from '../support/http-client';
import { waitFor } from '../support/wait';

const CLI = path.resolve(__dirname, '../../bin/baton.js');

/**
 * How a request on a connection that dies with its process (a SIGKILLed master's connections in
 * transit, a SIGKILLed worker's) fails at the client: a reset, a close before the response, or,
 * when the client still writes its request to a UNIX socket the kernel already closed, EPIPE
 * (seen once in CI on Node 26). A timeout, a refusal or a bad response is never one of these.
 */
const LOST_WITH_ITS_PROCESS = /ECONNRESET|EPIPE|socket hang up/;

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
      for (const e of errors) expect(e).to.match(LOST_WITH_ITS_PROCESS);
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

  it('new master SIGKILLed right after it is ready (serving beside the old one, in probation): rollback; only connections in transit fail', async () => {
    t.server = new Server(t.dir, { PROBATION: '1500' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    await underLoad(port, async (load) => {
      process.kill(t.server!.pid, 'SIGUSR2');
      const started = await t.server!.waitEvent('upgrade-started');
      await t.server!.waitEvent('serving', 1, 10_000, (e) => e.master === started.pid);
      await waitFor('the probation log line', () => /upgrade-probation/.test(t.server!.stderr), 5_000);
      process.kill(started.pid as number, 'SIGKILL');
      const failed = await t.server!.waitEvent('upgrade-failed', 1, 10_000);
      expect(failed.reason).to.match(/was killed by SIGKILL during its probation/);
      await load.progress(30);
    }, 5);
    expect(t.server.count('upgrade-succeeded')).to.equal(0);
    expect(t.server.count('taking-back')).to.equal(0);
    expect(running(t.server.pid)).to.equal(true);
  });

  it('new master SIGKILLed in probation while a pid file is set: the pid file names the old master again, .oldbin is gone', async () => {
    const pidFile = t.dir.file('app.pid');
    t.server = new Server(t.dir, { PID_FILE: pidFile, PROBATION: '3000' });
    await t.server.waitEvent('serving');
    const old = t.server.pid;
    expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(old));
    process.kill(old, 'SIGUSR2');
    const started = await t.server.waitEvent('upgrade-started');
    const next = started.pid as number;
    await t.server.waitEvent('serving', 1, 10_000, (e) => e.master === next);
    await waitFor('the probation log line', () => /upgrade-probation/.test(t.server!.stderr), 5_000);
    // in probation, the serving new master is named, the old one in .oldbin
    expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(next));
    expect(fs.readFileSync(`${pidFile}.oldbin`, 'utf8').trim()).to.equal(String(old));
    process.kill(next, 'SIGKILL');
    const failed = await t.server.waitEvent('upgrade-failed', 1, 10_000);
    expect(failed.reason).to.match(/was killed by SIGKILL during its probation/);
    expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(old));
    expect(fs.existsSync(`${pidFile}.oldbin`)).to.equal(false);
    expect(t.server.count('upgrade-succeeded')).to.equal(0);
    expect(running(old)).to.equal(true);
  });

  it('new master SIGSTOPped: rolled back at readyTimeout, the stopped master and its workers killed', async () => {
    // readyTimeout also bounds the first master's start, which a busy machine can stretch past 1.5 s
    t.server = new Server(t.dir, { READY_TIMEOUT: '4000', START_DELAY: '300' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    await underLoad(port, async () => {
      process.kill(t.server!.pid, 'SIGUSR2');
      const started = await t.server!.waitEvent('upgrade-started');
      process.kill(started.pid as number, 'SIGSTOP');
      const failed = await t.server!.waitEvent('upgrade-failed', 1, 12_000);
      expect(failed.reason).to.match(/not serving within readyTimeout \(4000 ms\)/);
      await waitFor('stopped master killed', () => !running(started.pid as number), 5_000);
    });
  });

  it('old master SIGKILLed while it drains: its workers finish their requests; only connections in transit fail', async () => {
    t.server = new Server(t.dir);
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const oldWorkers = t.server.events.filter((e) => e.ev === 'worker-ready').map((e) => e.pid as number);
    // a slow request keeps the old generation draining (and its master alive) until we kill it
    const slow = request({ port }, '/?delay=3000');
    await t.server.waitEvent('slow-request');
    await underLoad(port, async (load) => {
      process.kill(t.server!.pid, 'SIGUSR2');
      await t.server!.waitEvent('generation-draining', 1, 15_000);
      process.kill(t.server!.pid, 'SIGKILL');
      await waitFor('old workers gone', () => oldWorkers.every((p) => !running(p)), 10_000);
      await load.progress(30);
    }, 5);
    // the killed master's worker finished the slow request before it exited
    expect((await slow).json?.version).to.equal('v0');
  });

  /**
   * nginx mode (no `baton run`): the new master dies after it took over, while the old one
   * still drains (held by a slow request). The old master takes service back on the
   * duplicates it kept: a fresh generation, the pid file names it again, no .oldbin.
   */
  async function takeBack(kill: (newPid: number) => Promise<void>): Promise<void> {
    const pidFile = t.dir.file('app.pid');
    t.server = new Server(t.dir, { PID_FILE: pidFile, DRAIN_TIMEOUT: '20000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const oldPid = t.server.pid;
    // it keeps the old generation draining past the upgrade and the kill: at load 12 on 2 cores the
    // upgrade alone took 3 to 6 s, and a 4 s request let the old master exit before the kill
    const slow = request({ port }, '/?delay=9000', { timeoutMs: 20_000 });
    await t.server.waitEvent('slow-request');
    await underLoad(port, async (load) => {
      t.dir.release({ version: 'v1' });
      process.kill(oldPid, 'SIGUSR2');
      const ok = await t.server!.waitEvent('upgrade-succeeded', 1, 15_000);
      const newPid = ok.pid as number;
      t.dir.release({ version: 'v2' });
      await kill(newPid);
      const back = await t.server!.waitEvent('taking-back', 1, 10_000);
      expect(back.master).to.equal(oldPid);
      expect(back.reason).to.match(new RegExp(`new master ${newPid} was killed by SIGKILL after it took over`));
      await t.server!.waitEvent('serving', 2, 10_000, (e) => e.master === oldPid);
      await waitFor('v2 served by the old master', () => (load.stats.versions.get('v2') ?? 0) > 10, 10_000);
      await load.progress(30);
    }, 5);
    expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(oldPid));
    expect(fs.existsSync(`${pidFile}.oldbin`)).to.equal(false);
    const r = await request({ port });
    expect(r.json?.version).to.equal('v2');
    expect(t.server.events.find((e) => e.ev === 'worker-ready' && e.pid === r.json?.pid)?.master).to.equal(oldPid);
    // the old generation went on draining all along: its slow request was answered
    expect((await slow).json?.version).to.equal('v0');
    // and this master goes on: another upgrade works from here
    process.kill(oldPid, 'SIGUSR2');
    await t.server.waitEvent('upgrade-succeeded', 2, 15_000);
  }

  it('new master SIGKILLed right after it took over (nginx mode): the old master takes service back', async () => {
    await takeBack(async (newPid) => {
      process.kill(newPid, 'SIGKILL');
    });
  });

  it('new master SIGKILLed while the old generation drains (nginx mode): the old master takes service back', async () => {
    await takeBack(async (newPid) => {
      await waitFor('old generation draining', () => t.server!.count('generation-draining') > 0, 10_000);
      await t.server!.waitEvent('worker-ready', 2, 10_000, (e) => e.master === newPid);
      // requests answered by the new master first: it really served
      const port = Number(t.server!.events.find((e) => e.ev === 'listening')?.port);
      await waitFor('the new master to answer', async () => (await request({ port })).json?.version === 'v1', 5_000, 20);
      process.kill(newPid, 'SIGKILL');
    });
  });

  it('take-back on a UNIX socket: served again at the same path, and the next upgrade hands it on', async () => {
    const sock = t.dir.file('app.sock');
    t.server = new Server(t.dir, { SOCK_PATH: sock, DRAIN_TIMEOUT: '20000' });
    await t.server.waitEvent('serving');
    const oldPid = t.server.pid;
    const slow = request({ socketPath: sock }, '/?delay=9000', { timeoutMs: 20_000 }); // as in takeBack()
    await t.server.waitEvent('slow-request');
    const load = new Load({ socketPath: sock }, { keepAlive: 2, fresh: 2, maxMs: 30_000 });
    try {
      await load.progress(30);
      t.dir.release({ version: 'v1' });
      process.kill(oldPid, 'SIGUSR2');
      const newPid = (await t.server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
      process.kill(newPid, 'SIGKILL');
      await t.server.waitEvent('serving', 2, 10_000, (e) => e.master === oldPid);
      await load.progress(30);
      process.kill(oldPid, 'SIGUSR2');
      const third = (await t.server.waitEvent('upgrade-succeeded', 2, 15_000)).pid as number;
      const r = await request({ socketPath: sock });
      expect(t.server.events.find((e) => e.ev === 'worker-ready' && e.pid === r.json?.pid)?.master).to.equal(third);
      await load.progress(30);
    } finally {
      await load.stop();
    }
    expect(load.stats.errors.length, load.stats.errors.join('\n')).to.be.at.most(5);
    for (const e of load.stats.errors) expect(e).to.match(LOST_WITH_ITS_PROCESS);
    expect((await slow).json?.version).to.equal('v0');
  });

  /**
   * Releases in their own directories, `current -> rel1` ("one"), served by `cd current && node app.js`
   * and held draining by a slow request; then `current -> rel2` ("two") and an upgrade to it.
   */
  async function upgradedAcrossReleases(): Promise<{ root: string; port: number; newPid: number; slow: Promise<Reply> }> {
    const root = t.dir.dir;
    for (const [name, version] of [['rel1', 'one'], ['rel2', 'two']]) {
      fs.mkdirSync(path.join(root, name));
      fs.copyFileSync(t.dir.app, path.join(root, name, 'app.js'));
      fs.writeFileSync(path.join(root, name, 'release.json'), JSON.stringify({ version, mode: 'ok' }));
    }
    const point = (to: string): void => {
      fs.symlinkSync(to, path.join(root, 'current.new'));
      fs.renameSync(path.join(root, 'current.new'), path.join(root, 'current'));
    };
    point('rel1');
    t.server = new Server(t.dir, { DRAIN_TIMEOUT: '20000' }, { script: 'app.js', cwd: path.join(root, 'current') });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const slow = request({ port }, '/?delay=4000', { timeoutMs: 15_000 });
    await t.server.waitEvent('slow-request');
    point('rel2');
    process.kill(t.server.pid, 'SIGUSR2');
    const newPid = (await t.server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    expect((await request({ port })).json?.version).to.equal('two');
    return { root, port, newPid, slow };
  }

  it('a taken-back generation runs the release the old master ran, though `current` now names the new one', async () => {
    const { root, port, newPid, slow } = await upgradedAcrossReleases();
    process.kill(newPid, 'SIGKILL');
    await t.server!.waitEvent('serving', 2, 10_000, (e) => e.master === t.server!.pid);
    const r = await request({ port });
    expect(r.json?.version).to.equal('one');
    expect(r.json?.dir).to.equal(fs.realpathSync(path.join(root, 'rel1')));
    expect(t.server!.stderr).to.match(/starts from \S+rel1\/app\.js \(the release generation 1 ran\)/);
    expect(t.server!.stderr).to.not.match(/take-back-retry/);
    expect((await slow).json?.version).to.equal('one');
  });

  it('a take-back whose old release no longer starts falls back to the current release', async () => {
    const { root, port, newPid, slow } = await upgradedAcrossReleases();
    // the old release is broken meanwhile (cleaned up, half overwritten, ...)
    fs.writeFileSync(path.join(root, 'rel1', 'release.json'), JSON.stringify({ version: 'one', mode: 'worker-throws' }));
    process.kill(newPid, 'SIGKILL');
    await t.server!.waitEvent('serving', 2, 10_000, (e) => e.master === t.server!.pid);
    expect(t.server!.stderr).to.match(/take-back-retry: generation \d+ could not start: .*worker cannot start.*; trying the current release/);
    expect((await request({ port })).json?.version).to.equal('two');
    expect(t.server!.count('take-back-failed')).to.equal(0);
    expect((await slow).json?.version).to.equal('one');
  });

  it('a take-back whose generation cannot start: logged with the reason, the old master drains and exits 1', async () => {
    t.server = new Server(t.dir, { DRAIN_TIMEOUT: '20000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const slow = request({ port }, '/?delay=2000', { timeoutMs: 15_000 });
    await t.server.waitEvent('slow-request');
    t.dir.release({ version: 'v1' });
    process.kill(t.server.pid, 'SIGUSR2');
    const newPid = (await t.server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    t.dir.release({ version: 'v2', mode: 'worker-throws' }); // in place: what the old release's files say now
    process.kill(newPid, 'SIGKILL');
    const failed = await t.server.waitEvent('take-back-failed', 1, 10_000);
    expect(failed.reason).to.match(/generation \d+ could not start: .*worker cannot start/);
    expect((await slow).json?.version).to.equal('v0');
    await waitFor('old master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.stderr).to.match(/take-back-failed: taking service back failed, nothing serves new connections/);
  });

  it('a new master that handed over in turn and then died is not taken back by the first master', async () => {
    t.server = new Server(t.dir, { DRAIN_TIMEOUT: '20000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const first = t.server.pid;
    const slow1 = request({ port }, '/?delay=4000', { timeoutMs: 15_000 });
    await t.server.waitEvent('slow-request');
    t.dir.release({ version: 'v1' });
    process.kill(first, 'SIGUSR2');
    const second = (await t.server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    const slow2 = request({ port }, '/?delay=4000', { timeoutMs: 15_000 }).catch((e: Error) => e);
    await t.server.waitEvent('slow-request', 2);
    t.dir.release({ version: 'v2' });
    process.kill(second, 'SIGUSR2');
    const third = (await t.server.waitEvent('upgrade-succeeded', 2, 15_000)).pid as number;
    expect(third).to.not.equal(second);
    process.kill(second, 'SIGKILL');
    await waitFor('second master gone', () => !running(second), 5_000);
    // the first master keeps draining and exits; the third serves alone
    expect((await slow1).json?.version).to.equal('v0');
    await waitFor('first master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(0);
    expect(t.server.count('taking-back')).to.equal(0);
    expect((await request({ port })).json?.version).to.equal('v2');
    await slow2;
  });

  it('a new master that stops on its own (baton stop, exit 0) is not taken back', async () => {
    t.server = new Server(t.dir, { DRAIN_TIMEOUT: '20000' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const slow = request({ port }, '/?delay=3000');
    await t.server.waitEvent('slow-request');
    process.kill(t.server.pid, 'SIGUSR2');
    const ok = await t.server.waitEvent('upgrade-succeeded', 1, 15_000);
    process.kill(ok.pid as number, 'SIGTERM');
    await waitFor('new master exit', () => !running(ok.pid as number), 10_000);
    // the old master, still draining, let its duplicates go: the port refuses, it does not queue
    expect(running(t.server.pid), 'the old master still drains').to.equal(true);
    const refused = await new Promise<string>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve('connected');
      });
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(refused).to.equal('ECONNREFUSED');
    expect((await slow).status).to.equal(200);
    await waitFor('old master exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(0);
    expect(t.server.count('taking-back')).to.equal(0);
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

  /** Only requests in flight on a crashing worker may fail, and only as lost with it (a reset, a hang-up, EPIPE). */
  function onlyResets(errors: string[]): void {
    for (const e of errors) expect(e).to.match(LOST_WITH_ITS_PROCESS);
  }

  it('an upgrade is rolled back: the old master never stopped accepting and keeps serving', async () => {
    const pidFile = t.dir.file('app.pid');
    t.server = new Server(t.dir, { PROBATION: '1500', PID_FILE: pidFile, CRASH_FALLBACK_MS: '0' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      t.dir.release({ version: 'crashy', mode: 'crash-after-ready' });
      process.kill(t.server.pid, 'SIGUSR2');
      const failed = await t.server.waitEvent('upgrade-failed', 1, 15_000);
      expect(failed.reason).to.match(/during its probation \(this master accepts again; it served its own connections all along\)/);
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

  it('new code that leaks past maxMemory right after an upgrade: the leaking worker is recycled, the upgrade stands, nothing fails', async () => {
    // the canary's latency rule is off: a leaking worker is slower while it grows and while its
    // replacement starts (p99 62 and 96 ms against 12 and 1.2 ms beside two CPU hogs), which that
    // rule may rightly hold against the new code (its own test: spec/integration/observe.spec.ts "a release slower by 5x"); this test
    // is about maxMemory, and keeps the canary's 5xx rule and the crash rule
    t.server = new Server(t.dir, { PROBATION: '1000', MAX_MEMORY: '120M', WORKER_TIMEOUT: '1000', MAX_LATENCY_RATIO: '0' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      t.dir.release({ version: 'leaky', mode: 'leak-after-ready' });
      process.kill(t.server.pid, 'SIGUSR2');
      const started = await t.server.waitEvent('upgrade-started');
      const newPid = started.pid as number;
      const rep = await t.server.waitEvent('worker-replaced', 1, 15_000, (e) => e.master === newPid);
      expect(rep.reason).to.match(/RSS \d+ MiB is over maxMemory \(120 MiB\)/);
      await t.server.waitEvent('upgrade-succeeded', 1, 15_000);
      // the replacement is ready, the leaking worker drained and left
      await waitFor('leaking worker gone', () => !running(rep.pid as number), 10_000);
      await load.progress(30);
    } finally {
      await load.stop();
    }
    expect(t.server.count('upgrade-failed')).to.equal(0);
    expect(load.stats.errors, load.stats.errors.slice(0, 3).join('\n')).to.deep.equal([]);
    expect(load.stats.non2xx).to.equal(0);
    expect((await request({ port })).json?.version).to.equal('leaky');
  });

  it('a reload is rolled back: the old generation, never drained, takes the connections back', async () => {
    t.server = new Server(t.dir, { PROBATION: '1500', CRASH_FALLBACK_MS: '0' });
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
    for (const e of load.stats.errors) expect(e).to.match(LOST_WITH_ITS_PROCESS);
  });

  /** Connections waiting in the accept queue of 127.0.0.1:port (Linux: rx_queue of its LISTEN row). */
  function acceptQueue(port: number): number | undefined {
    const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const row = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/))
      .find((c) => c[1] === local && c[3] === '0A');
    return row ? Number.parseInt((row[4] ?? '').split(':')[1] ?? '', 16) : undefined;
  }

  it('a full listen backlog after an upgrade: nothing fails, clients beyond it retry their SYN; the inherited socket keeps the backlog option', async function () {
    if (process.platform !== 'linux') this.skip();
    t.server = new Server(t.dir, { BACKLOG: '8', WORKERS: '1' });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const first = t.server.pid;
    process.kill(first, 'SIGUSR2');
    const next = (await t.server.waitEvent('upgrade-succeeded', 1, 15_000)).pid as number;
    await waitFor('old master gone', () => !running(first), 10_000);
    // nobody accepts while the new master and its worker are stopped: 30 clients for a backlog of 8
    const stopped = [next, ...t.server.events.filter((e) => e.ev === 'worker-ready' && e.master === next).map((e) => e.pid as number)];
    expect(stopped).to.have.length(2);
    for (const p of stopped) process.kill(p, 'SIGSTOP');
    const t0 = Date.now();
    try {
      const replies = Array.from({ length: 30 }, () => request({ port }, '/', { timeoutMs: 15_000 }).then((r) => ({ status: r.status, ms: Date.now() - t0 })));
      // Linux queues backlog + 1; with Node's default (511) all 30 would be queued
      const queued = await waitFor('a full accept queue', () => {
        const q = acceptQueue(port);
        return q !== undefined && q >= 9 ? q : undefined;
      }, 5_000);
      expect(queued).to.equal(9);
      for (const p of stopped) process.kill(p, 'SIGCONT');
      const done = await Promise.all(replies);
      expect(done.map((r) => r.status)).to.deep.equal(Array(30).fill(200));
      // the ones the full queue turned away got in on their SYN retry (about 1 s later)
      expect(done.filter((r) => r.ms >= 900).length).to.be.greaterThan(0);
    } finally {
      for (const p of stopped) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          // gone
        }
      }
    }
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
