// Helpers for the unit specs: temp dirs, processes remembered by pid so afterEach can kill
// them, a child's output as lines, the fd of a socket. Their waits are in ./wait.ts.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
export { isRunning as running } from '../../lib/os/proctree';
import { onLines } from '../../lib/log/lines';
import { listeningFd, rawHandle } from '../../lib/os/internals';
import { waitFor } from './wait';

/** A fresh temporary directory, as a real path (so realpath comparisons are exact). */
export function tempDir(prefix = 'baton-unit-'): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
}

/** Remembers pids; killAll() SIGKILLs each one by pid. */
export class Pids {
  private pids = new Set<number>();
  add(pid: number | undefined): number {
    if (pid === undefined) throw new Error('process has no pid (spawn failed?)');
    this.pids.add(pid);
    return pid;
  }
  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.pids.clear();
  }
}

/** Collects a child's stdout as lines; wait for one matching a pattern. */
export class Lines {
  readonly all: string[] = [];
  constructor(child: ChildProcess) {
    if (child.stdout) onLines(child.stdout, (line) => this.all.push(line));
  }
  find(re: RegExp): RegExpMatchArray | undefined {
    for (const l of this.all) {
      const m = l.match(re);
      if (m) return m;
    }
    return undefined;
  }
  wait(re: RegExp, timeoutMs = 5_000): Promise<RegExpMatchArray> {
    return waitFor(() => `a line matching ${re} (got ${JSON.stringify(this.all)})`, () => this.find(re), timeoutMs, 10);
  }
}

/** The fd of a test's own listening server or connected socket (through lib/os/internals.ts). */
export function fdOf(x: net.Server | net.Socket): number {
  return x instanceof net.Server ? listeningFd(x) : (rawHandle(x) as { fd: number }).fd;
}
