// systemd notifications (Type=notify), received by a stand-in for systemd's socket.
import { expect } from 'chai';
import * as path from 'node:path';
import { AppDir, Server } from '../support/harness';
import { FakeSystemd, haveNotifyTools as haveTools } from '../support/fake-systemd';
import { waitFor } from '../support/wait';

const CLI = path.resolve(__dirname, '../../bin/baton.js');

describe('systemd notifications (integration)', function () {
  this.timeout(60_000);
  let dir: AppDir;
  let server: Server | undefined;
  let systemd: FakeSystemd | undefined;

  before(function () {
    if (!haveTools) this.skip(); // needs python3 (the fake socket) and systemd-notify
  });
  beforeEach(async () => {
    dir = new AppDir();
    dir.release({ version: 'v0' });
    systemd = new FakeSystemd(dir.file('notify.sock'));
    await systemd.started();
  });
  afterEach(() => {
    server?.kill();
    server = undefined;
    systemd?.kill();
    dir.remove();
  });

  it('node app.js: READY=1 with MAINPID, RELOADING=1 during an upgrade, the new master as MAINPID, STOPPING=1', async () => {
    server = new Server(dir, { NOTIFY_SOCKET: systemd!.socket });
    await server.waitEvent('serving');
    expect(await systemd!.message(/^READY=1/)).to.match(new RegExp(`MAINPID=${server.pid}\\b`));
    process.kill(server.pid, 'SIGUSR2');
    const ok = await server.waitEvent('upgrade-succeeded', 1, 15_000);
    expect(await systemd!.message(/^RELOADING=1 \| MONOTONIC_USEC=\d+/)).to.be.a('string');
    expect(await systemd!.message(/^READY=1/, 2)).to.match(new RegExp(`MAINPID=${ok.pid}\\b`));
    process.kill(ok.pid as number, 'SIGTERM');
    await systemd!.message(/^STOPPING=1/);
  });

  it('baton run: the supervisor is the MAINPID throughout; masters send nothing of their own', async () => {
    server = new Server(dir, { NOTIFY_SOCKET: systemd!.socket }, { args: [CLI, 'run', 'app.js'] });
    await server.waitEvent('serving');
    expect(await systemd!.message(/^READY=1/)).to.match(new RegExp(`MAINPID=${server.pid}\\b`));
    process.kill(server.pid, 'SIGUSR2');
    await server.waitEvent('upgrade-succeeded', 1, 15_000);
    await systemd!.message(/^RELOADING=1/);
    expect(await systemd!.message(/^READY=1/, 2)).to.match(new RegExp(`MAINPID=${server.pid}\\b`));
    process.kill(server.pid, 'SIGTERM');
    await systemd!.message(/^STOPPING=1/);
    await waitFor('supervisor exit', () => server?.exitCode !== undefined, 10_000);
    const mainPids = systemd!.lines.filter((l) => l.includes('MAINPID=')).map((l) => /MAINPID=(\d+)/.exec(l)?.[1]);
    expect(new Set(mainPids)).to.deep.equal(new Set([String(server.pid)]));
  });
});

