// The unit files of docs/deployment.md under a real systemd (the installed one, booted in private
// namespaces by spec/support/systemd.ts): start, reload (a successful and a failed upgrade), stop,
// and which pid systemd follows. Skips where systemd cannot be booted.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AppDir, DIST, Load } from '../support/harness';
import { APP_IN, cannotBoot, NODE, REPO, Systemd } from '../support/systemd';
import { request } from '../support/http-client';
import { waitFor } from '../support/wait';

const BATON = `${APP_IN}/node_modules/.bin/baton`;
const PID_FILE = '/run/app/app.pid';
const UNIT = 'app.service';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** How often the asynchronous waits look: journalctl and systemctl are a process per look. */
const EVERY_MS = 50;

function setsid(): string {
  return ['/usr/bin/setsid', '/bin/setsid'].find((p) => fs.existsSync(p)) ?? 'setsid';
}

/** The units' PATH: the node under test first (the `baton` CLI is a `#!/usr/bin/env node` script). */
const UNIT_PATH = `${path.dirname(NODE)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/** The [Service] lines every unit shares: the fixture's environment (2 workers, the test's port). */
function env(port: number): string {
  return [
    `Environment=PATH=${UNIT_PATH}`,
    `Environment=BATON_DIST=${DIST}`,
    `Environment=PORT=${port} WORKERS=2 PID_FILE=${PID_FILE}`,
  ].join('\n');
}

// The units of docs/deployment.md, with /srv/app for /srv/app/current and without User= (root here).
const units = {
  simple: (port: number) => `[Unit]
Description=my app (baton run, Type=simple)
After=network.target

[Service]
Type=simple
WorkingDirectory=${APP_IN}
ExecStart=${BATON} run app.js
ExecReload=${BATON} upgrade --pid-file ${PID_FILE}
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=50
Restart=on-failure
RuntimeDirectory=app
${env(port)}

[Install]
WantedBy=multi-user.target
`,
  notifyRun: (port: number) => `[Service]
Type=notify
NotifyAccess=all
WorkingDirectory=${APP_IN}
ExecStart=${BATON} run app.js
ExecReload=${BATON} upgrade --pid-file ${PID_FILE}
RuntimeDirectory=app
${env(port)}
`,
  notifyNode: (port: number) => `[Service]
Type=notify
NotifyAccess=all
WorkingDirectory=${APP_IN}
ExecStart=${NODE} app.js
ExecReload=${BATON} upgrade --pid-file ${PID_FILE}
RuntimeDirectory=app
${env(port)}
`,
  forking: (port: number, start = `${setsid()} -f ${NODE} app.js`, extra = '') => `[Service]
Type=forking
PIDFile=${PID_FILE}
WorkingDirectory=${APP_IN}
ExecStart=${start}
ExecReload=${BATON} upgrade --pid-file ${PID_FILE}
RuntimeDirectory=app
${extra}
${env(port)}
`,
};

describe('systemd: the unit files of docs/deployment.md under a real systemd (integration)', function () {
  this.timeout(30_000);
  let dir: AppDir;
  let sd: Systemd | undefined;
  let port: number;
  /** Every pid of the namespace seen during the test (supervisor, masters, workers). */
  let seen: Set<number>;

  before(function () {
    const why = cannotBoot();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
  });

  beforeEach(async function () {
    dir = new AppDir();
    dir.release({ version: 'v0' });
    fs.mkdirSync(dir.file('node_modules/.bin'), { recursive: true });
    fs.symlinkSync(path.join(REPO, 'bin/baton.js'), dir.file('node_modules/.bin/baton'));
    port = await freePort();
    seen = new Set();
    try {
      sd = await Systemd.boot(dir.dir);
    } catch (err) {
      sd = undefined;
      dir.remove();
      console.log(`      (skipped: systemd cannot boot here: ${(err as Error).message})`);
      this.skip();
    }
  });

  afterEach(async function () {
    if (sd && this.currentTest?.state === 'failed') {
      const status = await sd.systemctl('status', UNIT);
      console.log(`--- systemctl status ${UNIT} ---\n${status.stdout.slice(-3000)}\n--- journal ---\n${(await sd.journal(UNIT)).slice(-4000)}`);
    }
    await sd?.shutdown();
    sd = undefined;
    dir?.remove();
  });

  const s = (): Systemd => sd as Systemd;
  const main = async (): Promise<number> => Number((await s().show(UNIT, 'MainPID')).MainPID);
  const pidFile = (): number => Number(fs.readFileSync(s().path(PID_FILE), 'utf8').trim());
  const comm = (nsPid: number): string => fs.readFileSync(s().path(`/proc/${nsPid}/comm`), 'utf8').trim();
  const ppid = (nsPid: number): number => Number(fs.readFileSync(s().path(`/proc/${nsPid}/stat`), 'utf8').split(') ')[1]?.split(' ')[1]);
  const serve = async (): Promise<{ version: string; pid: number; generation: number }> => {
    const r = await request({ port });
    expect(r.status).to.equal(200);
    seen.add(r.json?.pid as number);
    return r.json as { version: string; pid: number; generation: number };
  };

  async function start(ready: 'on return' | 'soon'): Promise<void> {
    const r = await s().systemctl('start', UNIT);
    expect(r.code, r.stderr).to.equal(0);
    // Type=notify and Type=forking return once serving (READY=1, or the pid file written);
    // Type=simple right after the fork.
    if (ready === 'soon') {
      await waitFor('the pid file (written once serving)', () => fs.existsSync(s().path(PID_FILE)) || undefined, 10_000);
    }
    expect((await serve()).version).to.equal('v0');
    seen.add(await main()).add(pidFile());
  }

  /** `systemctl reload` (baton upgrade) under a small load: succeeds, a new master serves `version`. */
  async function reload(version: string): Promise<{ before: number; after: number }> {
    const before = pidFile();
    dir.release({ version });
    const load = new Load({ port }, { keepAlive: 2, fresh: 1, maxMs: 15_000, maxRequests: 5_000 });
    try {
      await load.progress(20);
      const r = await s().systemctl('reload', UNIT);
      expect(r.code, r.stderr).to.equal(0);
      await load.progress(20);
    } finally {
      await load.stop();
    }
    expect(load.stats.errors, load.stats.errors.slice(0, 3).join('\n')).to.deep.equal([]);
    const after = pidFile();
    expect(after).to.not.equal(before);
    expect((await serve()).version).to.equal(version);
    seen.add(after);
    return { before, after };
  }

  /** A release that throws at start-up: the reload fails, the old master goes on serving. */
  async function failedReload(serving: string): Promise<void> {
    const mainBefore = await main();
    const master = pidFile();
    dir.release({ version: 'broken', mode: 'throw' });
    const r = await s().systemctl('reload', UNIT);
    expect(r.code).to.not.equal(0);
    expect(await s().journal(UNIT)).to.include('release broken is broken: thrown at start-up');
    const st = await s().show(UNIT, 'ActiveState', 'SubState', 'MainPID');
    expect([st.ActiveState, st.SubState, Number(st.MainPID)]).to.deep.equal(['active', 'running', mainBefore]);
    expect(pidFile()).to.equal(master);
    expect((await serve()).version).to.equal(serving);
  }

  /** `systemctl stop`: an in-flight request is answered, then nothing of the service is left. */
  async function stop(): Promise<void> {
    const slow = request({ port }, '/?delay=800');
    await waitFor('the slow request to reach a worker', async () => (await s().journal(UNIT)).includes('"ev":"slow-request"'), 10_000, EVERY_MS);
    const r = await s().systemctl('stop', UNIT);
    expect(r.code, r.stderr).to.equal(0);
    expect((await slow).status).to.equal(200);
    const st = await s().show(UNIT, 'ActiveState', 'Result', 'MainPID');
    expect([st.ActiveState, st.Result, st.MainPID]).to.deep.equal(['inactive', 'success', '0']);
    expect(s().unitProcesses(UNIT)).to.deep.equal([]);
    expect([...seen].filter((p) => s().alive(p))).to.deep.equal([]);
  }

  it('the units run the node under test: it is visible inside the namespace, first on their PATH', async () => {
    const r = await s().exec(['env', `PATH=${UNIT_PATH}`, 'node', '-p', 'process.execPath + " " + process.version']);
    expect(r.stdout.trim(), r.stderr).to.equal(`${NODE} ${process.version}`);
  });

  it('baton run, Type=simple (the recommended unit): MainPID is the supervisor throughout', async () => {
    await s().install(UNIT, units.simple(port));
    await start('soon');
    const supervisor = await main();
    expect(comm(supervisor)).to.equal('baton:sup'); // the 15-byte comm (lib/os/title.ts)
    expect(pidFile()).to.not.equal(supervisor);

    const { after } = await reload('v1');
    expect(await main()).to.equal(supervisor);
    expect(ppid(after)).to.equal(supervisor);
    await failedReload('v1');
    await stop();
  });

  it('baton run, Type=notify: start returns once serving; MainPID is the supervisor throughout', async () => {
    await s().install(UNIT, units.notifyRun(port));
    await start('on return');
    const supervisor = await main();
    expect(comm(supervisor)).to.equal('baton:sup'); // the 15-byte comm (lib/os/title.ts)

    await reload('v1');
    expect(await main()).to.equal(supervisor);
    await waitFor('STATUS= of the new master', async () => (await s().show(UNIT, 'StatusText')).StatusText === `master ${pidFile()} serving`, 5_000, EVERY_MS);
    await failedReload('v1');
    await stop();
  });

  it('node app.js, Type=notify: MainPID moves to the new master at each upgrade (MAINPID=)', async () => {
    await s().install(UNIT, units.notifyNode(port));
    await start('on return');
    expect(await main()).to.equal(pidFile());

    const { before, after } = await reload('v1');
    // the new master's READY=1 MAINPID= (systemd-notify runs asynchronously to `baton upgrade`)
    await waitFor('MainPID to be the new master', async () => (await main()) === after, 5_000, EVERY_MS);
    await waitFor('the old master to exit', () => !s().alive(before), 10_000);
    const st = await s().show(UNIT, 'ActiveState', 'MainPID');
    expect([st.ActiveState, Number(st.MainPID)]).to.deep.equal(['active', after]);
    await failedReload('v1');
    await stop();
  });

  it('node app.js, Type=forking + PIDFile= behind `setsid -f`: systemd follows the rewritten pid file', async () => {
    await s().install(UNIT, units.forking(port));
    // setsid exits at once; systemd waits for the pid file, which baton writes once serving
    await start('on return');
    expect(await main()).to.equal(pidFile());

    // systemctl reload: systemd re-reads PIDFile= when ExecReload= has finished
    const { after } = await reload('v1');
    expect(await main()).to.equal(after);

    // SIGUSR2 straight to the master, no reload job: systemd re-reads the pid file when the old master exits
    dir.release({ version: 'v2' });
    const r = await s().systemctl('kill', '--signal=SIGUSR2', '--kill-who=main', UNIT);
    expect(r.code, r.stderr).to.equal(0);
    await waitFor('the old master to exit', () => !s().alive(after), 15_000);
    const next = pidFile();
    seen.add(next);
    // systemd learns of the exit of a main process that is not its child asynchronously (it
    // said so: "We'll most likely not notice when it exits"), then reads the pid file again
    await waitFor('MainPID to be the new master', async () => (await main()) === next, 5_000, EVERY_MS);
    const st = await s().show(UNIT, 'ActiveState', 'MainPID');
    expect([st.ActiveState, Number(st.MainPID)]).to.deep.equal(['active', next]);
    expect(next).to.not.equal(after);
    expect((await serve()).version).to.equal('v2');

    await failedReload('v2');
    await stop();
  });

  it('node app.js, Type=forking without a wrapper: serves, but systemd waits for it to fork until TimeoutStartSec', async () => {
    await s().install(UNIT, units.forking(port, `${NODE} app.js`, 'TimeoutStartSec=2'));
    const starting = s().systemctl('start', UNIT);
    await waitFor('the pid file', () => fs.existsSync(s().path(PID_FILE)) || undefined, 10_000);
    expect((await serve()).version).to.equal('v0');
    expect((await s().show(UNIT, 'ActiveState')).ActiveState).to.equal('activating');
    expect((await starting).code).to.not.equal(0);
    expect((await s().show(UNIT, 'Result')).Result).to.equal('timeout');
    await waitFor('nothing left', () => s().unitProcesses(UNIT).length === 0 || undefined, 10_000);
  });
});
