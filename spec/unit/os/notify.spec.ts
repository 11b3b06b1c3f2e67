// What a failed systemd-notify is logged as (lib/os/notify.ts), on real failures of execFile made
// for each case. The notifications themselves: spec/integration/notify.spec.ts.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { notifyFailure } from '../../../lib/os/notify';

describe('notifyFailure: what a failed systemd-notify is logged as', () => {
  // real failures of execFile, each made for the case
  function failure(command: string, args: string[], opts: { timeout?: number; kill?: NodeJS.Signals } = {}): Promise<Error> {
    return new Promise((resolve) => {
      const child = execFile(command, args, { timeout: opts.timeout }, (err) => resolve(err as Error));
      // from outside, as systemd does (child.kill() would mark it as killed by us)
      if (opts.kill) setImmediate(() => process.kill(child.pid as number, opts.kill));
    });
  }

  it('not installed: says so and how to fix it', async () => {
    const err = await failure('baton-no-such-command', []);
    expect(notifyFailure(err, ['READY=1'])).to.match(/systemd-notify is not installed .*unset NOTIFY_SOCKET/);
  });

  it('STOPPING=1 caught by systemd\'s SIGTERM to the control group: nothing to say', async () => {
    const err = await failure('sleep', ['5'], { kill: 'SIGTERM' });
    expect(notifyFailure(err, ['STOPPING=1'])).to.equal(undefined);
    expect(notifyFailure(err, ['READY=1'])).to.equal('systemd-notify was killed by SIGTERM');
  });

  it('a timeout and an exit code are named', async () => {
    expect(notifyFailure(await failure('sleep', ['5'], { timeout: 50 }), ['STOPPING=1'])).to.equal('systemd-notify did not finish within 5 s');
    expect(notifyFailure(await failure('sh', ['-c', 'exit 3']), ['READY=1'])).to.equal('systemd-notify exited with code 3');
  });
});
