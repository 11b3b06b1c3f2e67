// The orchestrator's side of the load generator (bench/loadgen.ts): forks it, starts and
// stops its runs one at a time, keeps its latest progress, and turns its exit or a fatal
// message into a rejected run.
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { FromLoadgen, Progress, RunCommand, RunRecords } from './common';

export type LoadCommand = Omit<RunCommand, 'type' | 'id'>;

export class Loadgen {
  readonly proc: ChildProcess;
  progress: Progress = { type: 'progress', id: '', sent: 0, answered: 0, failed: 0, non2xx: 0 };
  private pending: { id: string; resolve: (r: RunRecords) => void; reject: (e: Error) => void } | undefined;
  private seq = 0;
  private readyP: Promise<void>;

  constructor() {
    this.proc = fork(path.join(__dirname, 'loadgen.ts'), [], {
      execArgv: ['-r', require.resolve('ts-node/register/transpile-only')],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.readyP = new Promise((resolve, reject) => {
      this.proc.once('message', () => resolve());
      this.proc.once('exit', (code) => reject(new Error(`the load generator exited with code ${code} before it was ready`)));
    });
    this.proc.on('message', (m: FromLoadgen) => {
      if (m.type === 'progress') this.progress = m;
      else if (m.type === 'result' && this.pending?.id === m.id) {
        this.progress = { type: 'progress', id: '', sent: 0, answered: 0, failed: 0, non2xx: 0 };
        const p = this.pending;
        this.pending = undefined;
        p.resolve(m);
      } else if (m.type === 'fatal') {
        const p = this.pending;
        this.pending = undefined;
        p?.reject(new Error(`load generator: ${m.message}`));
      }
    });
    this.proc.on('exit', (code, signal) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(new Error(`the load generator exited (${signal ?? `code ${code}`}) during a run`));
    });
  }

  ready(): Promise<void> {
    return this.readyP;
  }

  /** Starts a run; resolves with its records once sending stopped and requests settled. */
  run(c: LoadCommand): { id: string; done: Promise<RunRecords> } {
    if (this.pending) throw new Error('a load run is already in progress');
    const id = `run${++this.seq}`;
    const done = new Promise<RunRecords>((resolve, reject) => {
      this.pending = { id, resolve, reject };
    });
    this.progress = { type: 'progress', id, sent: 0, answered: 0, failed: 0, non2xx: 0 };
    this.proc.send({ type: 'run', id, ...c } satisfies RunCommand);
    return { id, done };
  }

  stop(id: string): void {
    if (this.proc.connected) this.proc.send({ type: 'stop', id });
  }

  close(): void {
    if (this.proc.connected) this.proc.disconnect();
    setTimeout(() => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    }, 1000).unref();
  }
}
