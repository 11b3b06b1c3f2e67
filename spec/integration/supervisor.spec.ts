// `baton run`: a supervisor with a stable pid owns the sockets and starts every master.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onLines } from '../../lib/log/lines';
import { AppDir, DIST, Load, perTest, running, Server } from '../support/harness';
import { request } from '../support/http-client';
import { holds, waitFor } from '../support/wait';
import { FakeSystemd, haveNotifyTools } from '../support/fake-systemd';

const CLI = path.resolve(__dirname, '../../bin/baton.js');

describe('supervisor mode: baton run (integration)', function () {
  this.timeout(60_000);
  const t = perTest();

  it('upgrades under load while the supervisor pid never changes; Ctrl-C still stops everything gracefully', async () => {
    const pidFile = t.dir.file('app.pid');
    t.server = new Server(t.dir, { PID_FILE: pidFile }, { args: [CLI, 'run', 'app.js'], ownGroup: true });
    const supervisor = t.server.pid;
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const first = t.server.servingMaster();
    expect(first).to.not.equal(supervisor);
    const load = new Load({ port }, { keepAlive: 3, fresh: 2, maxMs: 40_000 });
    try {
      await load.progress(30);
      let master = first;
      for (let i = 1; i <= 3; i++) {
        t.dir.release({ version: `v${i}` });
        // the supervisor takes SIGUSR2 itself, or a master forwards it
        process.kill(i % 2 === 1 ? supervisor : master, 'SIGUSR2');
        const ok = await t.server.waitEvent('upgrade-succeeded', i, 15_000);
        expect(ok.master).to.equal(master);
        await waitFor(`v${i} served`, () => (load.stats.versions.get(`v${i}`) ?? 0) > 10, 10_000);
        await waitFor('old master gone', () => !running(master), 10_000);
        master = ok.pid as number;
        expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(master));
        // every master is the supervisor's child
        expect(fs.readFileSync(`/proc/${master}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]).to.equal(String(supervisor));
        expect(running(supervisor)).to.equal(true);
      }
    } finally {
      await load.stop();
    }
    expect(load.stats.errors, load.stats.errors.slice(0, 3).join('\n')).to.deep.equal([]);

    const slow = request({ port }, '/?delay=600');
    await t.server.waitEvent('slow-request');
    process.kill(-supervisor, 'SIGINT');
    expect((await slow).status).to.equal(200);
    await waitFor('supervisor exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(0);
    await waitFor('everything gone', () => [...(t.server?.pids ?? [])].every((p) => !running(p)), 5_000);
  });

  it('a serving master that dies is replaced on the sockets the supervisor holds, and the log calls it a restart', async () => {
    t.server = new Server(t.dir, { BATON_LOG_LEVEL: 'info' }, { args: [CLI, 'run', 'app.js'] });
    const port = await t.server.port();
    await t.server.waitEvent('serving');
    const master = t.server.servingMaster();
    process.kill(master, 'SIGKILL');
    // connections made meanwhile wait in the backlog and are served by the next master
    const during = request({ port }, '/', { timeoutMs: 15_000 });
    await t.server.waitEvent('serving', 2, 15_000);
    expect((await during).status).to.equal(200);
    expect(t.server.servingMaster()).to.not.equal(master);
    expect(running(t.server.pid)).to.equal(true);
    const next = t.server.servingMaster();
    // the supervisor logs it once the new master told it (after the master's own 'serving' line)
    await waitFor('the restarted line', () => t.server!.stderr.includes(`restarted: master ${next} serves`), 5_000);
    const supervisor = t.server.stderr.split('\n').filter((l) => l.includes(` baton supervisor[${t.server!.pid}] `));
    const after = supervisor.slice(supervisor.findIndex((l) => l.includes('master-died')));
    expect(after[0]).to.match(new RegExp(`error master-died: serving master ${master} killed by SIGKILL`));
    expect(after.join('\n')).to.match(new RegExp(`info restart-started: restarting \\(the serving master died\\): new master ${next}`));
    expect(after.join('\n')).to.match(new RegExp(`info restarted: master ${next} serves \\(restarted: the serving master died\\)`));
    expect(after.join('\n')).not.to.match(/upgrade/);
  });

  /** The supervisor's own log lines, from the first that matches `from` on. */
  function supervisorLines(from: RegExp): string[] {
    const lines = (t.server as Server).stderr.split('\n').filter((l) => l.includes(` baton supervisor[${t.server!.pid}] `));
    const i = lines.findIndex((l) => from.test(l));
    return i < 0 ? [] : lines.slice(i);
  }

  it('a serving master killed during an upgrade that then fails is replaced: a master serves again on the held sockets, and the log and systemd are told so', async () => {
    // systemd's notification socket, faked where python3 and systemd-notify are (as in CI)
    const systemd = haveNotifyTools ? new FakeSystemd(t.dir.file('notify.sock')) : undefined;
    try {
      await systemd?.started();
      await upgradeFailsAfterTheMasterDied(systemd);
    } finally {
      systemd?.kill();
    }
  });

  async function upgradeFailsAfterTheMasterDied(systemd: FakeSystemd | undefined): Promise<void> {
    t.server = new Server(t.dir, { BATON_LOG_LEVEL: 'info', ...(systemd ? { NOTIFY_SOCKET: systemd.socket } : {}) }, { args: [CLI, 'run', 'app.js'] });
    const supervisor = t.server.pid;
    const port = await t.server.port();
    const old = (await t.server.waitEvent('serving')).master;
    // the upgrade's new master waits for the cue (so the old one dies while it is in progress), then throws
    const cue = t.dir.file('cue');
    t.dir.release({ version: 'v1', mode: 'throw-on-cue', cue });
    process.kill(supervisor, 'SIGUSR2');
    const next = (await t.server.waitEvent('awaiting-cue', 1, 15_000)).master;
    process.kill(old, 'SIGKILL');
    await waitFor(() => `the supervisor saw master ${old} die\n${t.server!.stderr.slice(-2000)}`, () => t.server!.stderr.includes(`master-died: serving master ${old} killed by SIGKILL`), 10_000);
    // no master serves now: a connection waits in the backlog of the socket the supervisor holds
    const during = request({ port }, '/', { timeoutMs: 30_000 });
    fs.writeFileSync(cue, '');
    const restarted = await t.server.waitEvent('serving', 2, 20_000);
    expect(restarted.master).to.not.equal(next);
    expect((await during).status).to.equal(200);
    expect((await request({ port })).status).to.equal(200);
    expect(running(next)).to.equal(false);
    expect(running(supervisor)).to.equal(true);
    await waitFor('the restarted line', () => t.server!.stderr.includes(`restarted: master ${restarted.master} serves`), 5_000);
    // one line per event, in order: the death (and what will follow), the failure and the restart it
    // starts after the crash back-off (the first: 100 ms), the restart, its master serving
    const lines = supervisorLines(/master-died/);
    expect(lines.map((l) => / (?:error|warn|info) ([a-z-]+):/.exec(l)?.[1])).to.deep.equal(['master-died', 'upgrade-failed', 'restart-spawned', 'restart-started', 'restarted']);
    expect(lines[0]).to.match(new RegExp(`error master-died: serving master ${old} killed by SIGKILL during the upgrade to new master ${next}: it serves if it starts, else a new master starts on the held sockets$`));
    expect(lines[1]).to.match(new RegExp(`error upgrade-failed: upgrade failed: the new master ${next} exited with code 1 before it was serving: Error: release v1 is broken: thrown at its cue, before listen\\(\\).*; no master serves \\(the old one died\\): restarting in 100 ms on the held sockets$`));
    expect(lines[3]).to.match(new RegExp(`info restart-started: restarting \\(the serving master died\\): new master ${restarted.master}$`));
    expect(lines[4]).to.match(new RegExp(`info restarted: master ${restarted.master} serves \\(restarted: the serving master died\\)$`));
    if (systemd === undefined) return;
    // READY=1 ends the upgrade's RELOADING=1, its status saying that nothing serves until the restart does
    await systemd.message(new RegExp(`^READY=1 \\| MAINPID=${supervisor} \\| STATUS=master ${restarted.master} serving$`));
    expect(systemd.lines.filter((l) => l !== 'listening' && l !== 'BARRIER=1').map((l) => l.replace(/MONOTONIC_USEC=\d+/, 'MONOTONIC_USEC=N'))).to.deep.equal([
      `READY=1 | MAINPID=${supervisor} | STATUS=master ${old} serving`,
      `RELOADING=1 | MONOTONIC_USEC=N | STATUS=upgrading: new master ${next} starting`,
      `READY=1 | MAINPID=${supervisor} | STATUS=upgrade failed; no master serves: restarting in 100 ms`,
      `STATUS=restarting: new master ${restarted.master} starting`,
      `READY=1 | MAINPID=${supervisor} | STATUS=master ${restarted.master} serving`,
    ]);
  }

  it('a serving master killed during an upgrade that then succeeds: the new master serves, and nothing restarts', async () => {
    t.server = new Server(t.dir, { BATON_LOG_LEVEL: 'info' }, { args: [CLI, 'run', 'app.js'] });
    const supervisor = t.server.pid;
    const port = await t.server.port();
    const old = (await t.server.waitEvent('serving')).master;
    // the upgrade's new master builds its pool, whose workers wait for the cue before they are ready
    const cue = t.dir.file('cue');
    t.dir.release({ version: 'v1', cue });
    process.kill(supervisor, 'SIGUSR2');
    const next = Number((await waitFor(() => `the upgrade's new master\n${t.server!.stderr.slice(-2000)}`, () => /upgrade-started: upgrade \(SIGUSR2\): new master (\d+)/.exec(t.server!.stderr)?.[1], 15_000)));
    t.server.pids.add(next); // killed by pid after the test, even if it never says a word
    process.kill(old, 'SIGKILL');
    await waitFor(() => `the supervisor saw master ${old} die\n${t.server!.stderr.slice(-2000)}`, () => t.server!.stderr.includes(`master-died: serving master ${old} killed by SIGKILL`), 10_000);
    const during = request({ port }, '/', { timeoutMs: 30_000 });
    fs.writeFileSync(cue, '');
    await waitFor(() => `the upgrade succeeded\n${t.server!.stderr.slice(-2000)}`, () => t.server!.stderr.includes(`upgrade-succeeded: master ${next} serves`), 20_000);
    const answer = await during;
    expect(answer.status).to.equal(200);
    expect(answer.json?.version).to.equal('v1');
    expect(t.server.servingMaster()).to.equal(next);
    // longer than the back-off a restart would have waited (100 ms): none starts
    await holds('no restart', () => !/restart-/.test(t.server!.stderr), 1_000);
    expect(t.server.count('serving')).to.equal(2);
    expect(running(supervisor)).to.equal(true);
    const lines = supervisorLines(/master-died/);
    expect(lines[0]).to.match(new RegExp(`error master-died: serving master ${old} killed by SIGKILL during the upgrade to new master ${next}: it serves if it starts, else a new master starts on the held sockets$`));
    expect(lines.join('\n')).not.to.match(/upgrade-refused|restart/);
    // its canary knows at once that the old master, which judges, is gone (it waited 2 s for a verdict)
    const canary = await waitFor(() => `the canary's line\n${t.server!.stderr.slice(-2000)}`, () => supervisorLines(/ canary: /)[0], 10_000);
    expect(canary).to.match(new RegExp(`warn canary: no verdict on new master ${next} \\(the old master ${old} died: nothing to compare the new one with\\): judged on crashes alone$`));
    expect((await request({ port })).json?.version).to.equal('v1');
  });

  it('a SIGUSR2 while a restart waits out its crash back-off ends the back-off: a restart at once, with no probation (no old master to roll back to)', async () => {
    // a probation longer than the test would wait for an upgrade's
    t.server = new Server(t.dir, { BATON_LOG_LEVEL: 'info', PROBATION: '20000' }, { args: [CLI, 'run', 'app.js'] });
    const supervisor = t.server.pid;
    const port = await t.server.port();
    const old = (await t.server.waitEvent('serving')).master;
    // every restart of a release that throws at start fails, and the back-off doubles (100, 200, ... ms)
    t.dir.release({ version: 'v1', mode: 'throw' });
    process.kill(old, 'SIGKILL');
    const long = () => [...t.server!.stderr.matchAll(/restart-failed: .*; trying again in (\d+) ms/g)].some((m) => Number(m[1]) >= 3_200);
    await waitFor(() => `a back-off of 3200 ms or more\n${t.server!.stderr.slice(-2000)}`, long, 30_000);
    t.dir.release({ version: 'v2' });
    process.kill(supervisor, 'SIGUSR2');
    const restarted = await t.server.waitEvent('serving', 2, 15_000);
    await waitFor('the restarted line', () => t.server!.stderr.includes(`restarted: master ${restarted.master} serves`), 10_000);
    const lines = supervisorLines(/restart-started: restarting \(SIGUSR2\)/);
    expect(lines[0]).to.match(new RegExp(`info restart-started: restarting \\(SIGUSR2\\): new master ${restarted.master}$`));
    expect(lines.join('\n')).to.match(new RegExp(`info restarted: master ${restarted.master} serves \\(restarted: SIGUSR2\\)`));
    expect(supervisorLines(/master-died/).join('\n')).not.to.match(/upgrade/);
    expect((await request({ port })).json?.version).to.equal('v2');
  });

  it('an app that never calls listen() is stopped after --ready-timeout, saying so; one that exits without it too', async () => {
    fs.writeFileSync(t.dir.file('plain.js'), `process.stdout.write(JSON.stringify({ ev: 'started', pid: process.pid }) + '\\n'); setInterval(() => {}, 1000);`);
    t.server = new Server(t.dir, {}, { args: [CLI, 'run', '--ready-timeout', '1000', 'plain.js'] });
    const app = (await t.server.waitEvent('started')).pid as number;
    await waitFor('supervisor exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.stderr).to.match(new RegExp(`error no-listen: plain.js \\(master ${app}\\) did not call baton's listen\\(\\) within 1000 ms: .*--ready-timeout MS`));
    expect(running(app)).to.equal(false);
    t.server.kill();

    fs.writeFileSync(t.dir.file('quits.js'), '');
    t.server = new Server(t.dir, {}, { args: [CLI, 'run', 'quits.js'] });
    await waitFor('supervisor exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.stderr).to.match(/the first master exited with code 0 before it called baton's listen\(\) \(is quits.js the file that calls/);
  });

  it('a master killed the moment it serves is replaced: the supervisor had its sockets and knew it served before it accepted', async () => {
    // the first master SIGKILLs itself in its own 'serving' event, before anything after it runs
    const marker = t.dir.file('killed-at-serving');
    t.server = new Server(t.dir, { KILL_AT_SERVING: marker }, { args: [CLI, 'run', 'app.js'] });
    const port = await t.server.port();
    const first = (await t.server.waitEvent('serving')).master;
    // the fixture writes its 'serving' line, then the marker, then SIGKILLs itself: the line can
    // reach this process before the marker exists (seen once in CI, Node 26)
    await waitFor('the first master marked that it killed itself at serving', () => fs.existsSync(marker), 5_000);
    await t.server.waitEvent('serving', 2, 15_000);
    expect(t.server.servingMaster()).to.not.equal(first);
    expect(running(first)).to.equal(false);
    expect((await request({ port })).status).to.equal(200);
    expect(running(t.server.pid)).to.equal(true);
    expect(t.server.stderr).to.match(new RegExp(`serving master ${first} killed by SIGKILL; starting a new one on the held sockets`));
  });

  it('a first master killed while it starts, even after it was scaled, makes `baton run` give up (it never served)', async () => {
    t.server = new Server(t.dir, { START_DELAY: '4000' }, { args: [CLI, 'run', 'app.js'] });
    const master = (await t.server.waitEvent('listening')).master;
    // scaling sends the supervisor the master's state: not yet a sign that it serves
    process.kill(master, 'SIGTTIN');
    await t.server.waitEvent('scaled');
    process.kill(master, 'SIGKILL');
    await waitFor('supervisor exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.stderr).to.contain(`the first master killed by SIGKILL before it served; giving up`);
    expect(t.server.count('serving')).to.equal(0);
  });

  it('a first master that cannot start makes `baton run` exit non-zero', async () => {
    t.dir.release({ version: 'bad', mode: 'throw' });
    t.server = new Server(t.dir, {}, { args: [CLI, 'run', 'app.js'] });
    await waitFor('supervisor exit', () => t.server?.exitCode !== undefined, 10_000);
    expect(t.server.exitCode).to.equal(1);
    expect(t.server.stderr).to.match(/release bad is broken/);
  });
});

describe('a master that is PID 1 (a container without baton run) (integration)', function () {
  this.timeout(30_000);
  const started: number[] = [];
  let dir: AppDir;
  beforeEach(() => {
    dir = new AppDir();
    dir.release({ version: 'v0' });
  });
  afterEach(() => {
    // by pid: the master (a host pid, found below) and unshare; its workers die with the namespace
    for (const pid of started.splice(0).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    dir.remove();
  });

  it('refuses SIGUSR2 with a clear error instead of taking the container down, and keeps serving', async function () {
    if (process.getuid?.() !== 0 || spawnSync('unshare', ['--version']).status !== 0) this.skip(); // needs root and util-linux
    // a new pid namespace, as in a container: node is its PID 1 (the harness's Server is not used:
    // it would take the "pid 1" the events report for a pid of this machine)
    const proc = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, dir.app], {
      cwd: dir.dir,
      env: { ...process.env, BATON_DIST: DIST, PORT: '0', WORKERS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(proc.pid as number);
    const events: Array<Record<string, unknown>> = [];
    let stderr = '';
    onLines(proc.stdout as NodeJS.ReadableStream, (line) => {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not an event
      }
    });
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const master = await waitFor('the master (host pid) under unshare', () => {
      try {
        const child = Number(fs.readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(' ')[0]);
        return child > 0 ? child : undefined;
      } catch {
        return undefined;
      }
    }, 5_000);
    started.push(master);
    const serving = await waitFor('serving', () => events.find((e) => e.ev === 'serving'), 10_000);
    expect(serving.master).to.equal(1);
    const port = events.find((e) => e.ev === 'listening')?.port as number;
    process.kill(master, 'SIGUSR2');
    await waitFor(`the refusal in the log (${stderr})`, () => /upgrade refused: this master is PID 1: its exit would end the container .*baton run/.test(stderr), 5_000);
    expect(events.filter((e) => e.ev === 'upgrade-started')).to.deep.equal([]);
    expect((await request({ port })).json?.version).to.equal('v0');
    // and it still stops gracefully
    process.kill(master, 'SIGTERM');
    await waitFor('the namespace exits', () => proc.exitCode !== null, 10_000);
    expect(proc.exitCode).to.equal(0);
  });
});
