// Sending on an IPC channel whose other end just died (lib/channel.ts).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { DIST, running } from '../support/harness';
import { waitFor } from '../support/wait';

const ORPHAN = path.resolve(__dirname, '../fixtures/orphan.js');

describe('channel (integration)', function () {
  this.timeout(30_000);
  const pids: number[] = [];
  afterEach(() => {
    for (const pid of pids.splice(0)) if (running(pid)) process.kill(pid, 'SIGKILL');
  });

  it('a send to a parent that died a moment ago (the channel not yet seen closed) does not crash the sender: its EPIPE is swallowed', async () => {
    const parent = spawn(process.execPath, [ORPHAN], { env: { ...process.env, BATON_DIST: DIST }, stdio: ['ignore', 'pipe', 'pipe'] });
    pids.push(parent.pid as number);
    let out = '';
    parent.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    parent.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    await waitFor('the child is up', () => /child \d+/.test(out), 10_000);
    pids.push(Number(/child (\d+)/.exec(out)?.[1]));
    parent.kill('SIGKILL');
    await waitFor('the child sent and lived on, or died', () => /survived|exit|EPIPE/.test(out), 10_000);
    // the child sent while its channel still said connected: that is the case under test
    expect(out).to.match(/connected true/);
    await waitFor('the child exits', () => /exit \d/.test(out), 10_000);
    expect(out, out).to.not.match(/EPIPE|Unhandled/);
    expect(out).to.match(/survived\n(.*\n)?exit 0/);
  });
});
