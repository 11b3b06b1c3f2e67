// The server processes under test, seen through the JSON event lines bench/app.js prints.
// Every pid any of them reports is remembered, so that all can be killed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { descendants, now, running, sleep } from './common';
import { onLines } from '../lib/log/lines';

export interface AppEvent {
  ev: string;
  /** Epoch ms when the process wrote the line (its own clock, same machine). */
  t: number;
  /** Pid of the master (or single process) that wrote it. */
  master: number;
  /** Epoch ms when the bench read it. */
  receivedAt: number;
  [k: string]: unknown;
}

type Waiter = { since: number; pred: (e: AppEvent) => boolean; resolve: (e: AppEvent) => void };

export class ServerProc {
  readonly events: AppEvent[] = [];
  readonly pids = new Set<number>();
  readonly warnings: string[] = [];
  readonly proc: ChildProcess;
  readonly spawnedAt: number;
  exited = false;
  private stderrTail = '';
  private waiters = new Set<Waiter>();

  /**
   * `how.wrap`: a command and its arguments that run node (`taskset -c 1`: pinned); `how.session`:
   * in a session of its own (setsid), which the kernel's autogroup schedules as one group.
   */
  constructor(readonly name: string, app: string, cwd: string, env: Record<string, string>, how: { wrap?: { cmd: string; args: string[] }; session?: boolean } = {}) {
    this.spawnedAt = now();
    const cmd = how.wrap ? how.wrap.cmd : process.execPath;
    const args = how.wrap ? [...how.wrap.args, process.execPath, app] : [app];
    this.proc = spawn(cmd, args, {
      cwd,
      env: { ...process.env, PWD: cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: how.session === true,
    });
    if (this.proc.pid !== undefined) this.pids.add(this.proc.pid);
    if (this.proc.stdout) {
      onLines(this.proc.stdout, (line) => {
        let e: AppEvent;
        try {
          e = { ...JSON.parse(line), receivedAt: now() } as AppEvent;
        } catch {
          return;
        }
        this.events.push(e);
        if (typeof e.master === 'number') this.pids.add(e.master);
        if (typeof e.pid === 'number') this.pids.add(e.pid);
        for (const w of this.waiters) {
          if (this.events.length - 1 >= w.since && w.pred(e)) {
            this.waiters.delete(w);
            w.resolve(e);
          }
        }
      });
    }
    if (this.proc.stderr) {
      this.proc.stderr.on('data', (d: Buffer) => {
        this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
      });
      onLines(this.proc.stderr, (line) => {
        if (line.trim() !== '' && this.warnings.length < 200) this.warnings.push(line);
      });
    }
    this.proc.on('exit', () => {
      this.exited = true;
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** The first event at index >= since matching pred, waiting up to timeoutMs. */
  waitFor(what: string, pred: (e: AppEvent) => boolean, since = 0, timeoutMs = 30_000): Promise<AppEvent> {
    for (let i = since; i < this.events.length; i++) {
      const e = this.events[i] as AppEvent;
      if (pred(e)) return Promise.resolve(e);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}\n--- stderr ---\n${this.stderrTail}`));
      }, timeoutMs);
      const w: Waiter = {
        since,
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      this.waiters.add(w);
    });
  }

  /** Port the server listens on, and the event saying it serves. */
  async ready(timeoutMs = 30_000): Promise<{ port: number; serving: AppEvent }> {
    const serving = await this.waitFor('serving', (e) => e.ev === 'serving', 0, timeoutMs);
    const withPort = await this.waitFor('a port', (e) => (e.ev === 'listening' || e.ev === 'serving') && typeof e.port === 'number', 0, timeoutMs);
    return { port: withPort.port as number, serving };
  }

  /** The master that serves now: the last one that said 'serving'. */
  servingMasterPid(): number {
    const s = this.events.filter((e) => e.ev === 'serving');
    const last = s[s.length - 1];
    if (last === undefined) throw new Error(`${this.name}: no master is serving`);
    return last.master;
  }

  servingGeneration(): number {
    const s = this.events.filter((e) => e.ev === 'serving' || e.ev === 'reload-succeeded');
    return Number(s[s.length - 1]?.generation ?? 1);
  }

  /** Worker pids a master reported ready (of one generation, if given). */
  workersOf(master: number, generation?: number): number[] {
    return this.events
      .filter((e) => e.ev === 'worker-ready' && e.master === master && (generation === undefined || e.generation === generation))
      .map((e) => e.pid as number);
  }

  /** SIGKILLs every process this server had (and any live descendant of them); waits until none runs. */
  async kill(timeoutMs = 5000): Promise<number[]> {
    const all = new Set<number>();
    for (const pid of this.pids) {
      if (!running(pid)) continue;
      all.add(pid);
      for (const d of descendants(pid)) all.add(d);
    }
    for (const pid of all) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const deadline = now() + timeoutMs;
    while ([...all].some(running) && now() < deadline) await sleep(10);
    return [...all].filter(running);
  }

  /** Synchronous last resort (SIGINT, crash). */
  killNow(): void {
    for (const pid of this.pids) {
      if (!running(pid)) continue;
      for (const d of descendants(pid)) {
        try {
          process.kill(d, 'SIGKILL');
        } catch {
          // gone
        }
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Resolves with the time all pids were seen gone (polling every 5 ms), or undefined at the deadline. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number | undefined> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (!pids.some(running)) return now();
    if (now() > deadline) return undefined;
    await sleep(5);
  }
}
