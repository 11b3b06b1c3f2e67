// Helpers for the unit specs: real-time waits that keep working while sinon fakes the
// global timers, temp dirs, and processes remembered by pid so afterEach can kill them.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
export { isRunning as running } from '../../lib/os/proctree';
import { onLines } from '../../lib/log/lines';
import { listeningFd, socketHandle } from '../../lib/os/internals';

// Captured at load time, before any test installs fake timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realNow = Date.now.bind(Date);

/** Waits `ms` of real time, even under fake timers. Only for polling, never as the check itself. */
export function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Polls `check` (real time) until it returns something other than undefined/false. */
export async function poll<T>(what: string | (() => string), check: () => T | undefined | false, timeoutMs = 5_000, everyMs = 10): Promise<T> {
  const deadline = realNow() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (realNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await realDelay(everyMs);
  }
}

/** Asserts `check` stays true for `ms` of real time (polled), e.g. "still alive 300 ms later". */
export async function holds(what: string, check: () => boolean, ms: number, everyMs = 20): Promise<void> {
  const end = realNow() + ms;
  for (;;) {
    if (!check()) throw new Error(`${what} stopped holding before ${ms} ms had passed`);
    if (realNow() >= end) return;
    await realDelay(everyMs);
  }
}

/** Resolves with the promise's value, or rejects after `ms` of real time. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = realSetTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => { realClearTimeout(t); resolve(v); },
      (e) => { realClearTimeout(t); reject(e); },
    );
  });
}


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
    return poll(() => `a line matching ${re} (got ${JSON.stringify(this.all)})`, () => this.find(re), timeoutMs);
  }
}

/** The fd of a test's own listening server or connected socket (through lib/os/internals.ts). */
export function fdOf(x: net.Server | net.Socket): number {
  return x instanceof net.Server ? listeningFd(x) : (socketHandle(x) as { fd: number }).fd;
}
