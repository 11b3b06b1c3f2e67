// A stand-in for systemd's notification socket ($NOTIFY_SOCKET): spec/fixtures/notify-recv.py
// binds it and prints each datagram as one line ("READY=1 | MAINPID=123 | STATUS=..."). Used by
// spec/integration/notify.spec.ts and spec/integration/supervisor.spec.ts; the caller kills it
// by pid (kill()) after each test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { onLines } from '../../lib/log/lines';
import { waitFor } from './wait';

const RECV = path.resolve(__dirname, '../fixtures/notify-recv.py');

/** Whether the fake can run here: python3 (the fake socket) and systemd-notify. */
export const haveNotifyTools = spawnSync('python3', ['--version']).status === 0 && spawnSync('systemd-notify', ['--help']).status === 0;

export class FakeSystemd {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  constructor(readonly socket: string) {
    this.proc = spawn('python3', [RECV, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    if (this.proc.stdout) onLines(this.proc.stdout, (line) => this.lines.push(line));
  }
  async started(): Promise<void> {
    await waitFor('the fake notify socket', () => this.lines.includes('listening'), 5_000);
  }
  async message(pattern: RegExp, n = 1): Promise<string> {
    return waitFor(`notification ${pattern} #${n} (got: ${this.lines.join(' // ')})`, () => this.lines.filter((l) => pattern.test(l))[n - 1], 10_000);
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
}
