// The load generator: a child process of the orchestrator (bench/run.ts), talking over an
// IPC channel with 'advanced' serialization (typed arrays travel as they are).
//
// One run = `connections` closed loops. Each loop sends a request, waits for its outcome,
// sends the next. `freshLoops` of them open a connection of their own for every request (no
// agent: `Connection: close`); the others use a keep-alive agent with at most `connections`
// sockets, except a share (1 - keepAliveShare) of their requests, each on a connection of its
// own. Every request is recorded when sent and its outcome when known: answered (status,
// version, generation and pid that answered), failed (error code), or still in flight when
// the run is frozen. Nothing is ever retried.
import * as http from 'node:http';
import {
  ANSWERED, FAILED, now, PENDING, type FromLoadgen, type RunCommand, type RunRecords, type ToLoadgen,
} from './common';
import { Names, Store } from './store';

function send(m: FromLoadgen): void {
  if (process.connected) process.send?.(m);
}

class Run {
  private store: Store;
  private agent: http.Agent;
  private stopRequested = false;
  private frozen = false;
  private live = new Set<http.ClientRequest>();
  /** When each keep-alive socket last finished a request. */
  private lastUsed = new WeakMap<object, number>();
  private versions = new Names<string>();
  private workers = new Names<number>();
  private codes = new Names<string>();
  private samples: Record<string, string> = {};
  private sent = 0;
  private answered = 0;
  private failed = 0;
  private non2xx = 0;
  private freshDebt = 0;
  private stopReason = 'duration';
  private startedAt = 0;
  private stoppedAt = 0;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(private c: RunCommand) {
    this.store = new Store(Math.min(c.maxRequests, 1 << 16));
    this.agent = new http.Agent({ keepAlive: true, maxSockets: c.connections, maxFreeSockets: c.connections });
  }

  stop(): void {
    if (!this.stopRequested) this.stopReason = 'stopped';
    this.stopRequested = true;
  }

  private codeIndex(code: string, message: string): number {
    if (!this.codes.has(code)) this.samples[code] = message;
    return this.codes.index(code);
  }

  private one(i: number, keepAlive: boolean): Promise<void> {
    const s = this.store;
    return new Promise((resolve) => {
      const t0 = now();
      s.sendAt[i] = t0;
      s.keepAlive[i] = keepAlive ? 1 : 0;
      let done = false;
      const finish = (outcome: number, code?: string, message?: string): void => {
        if (done) return;
        done = true;
        this.live.delete(req);
        if (keepAlive && req.socket) this.lastUsed.set(req.socket, now());
        if (!this.frozen) {
          s.latency[i] = now() - t0;
          s.outcome[i] = outcome;
          if (outcome === FAILED) {
            s.error[i] = this.codeIndex(code ?? 'EUNKNOWN', message ?? '');
            this.failed++;
          } else {
            this.answered++;
            if (s.status[i] < 200 || s.status[i] > 299) this.non2xx++;
          }
        }
        resolve();
      };
      const req = http.request({
        host: this.c.host,
        port: this.c.port,
        path: '/',
        method: 'GET',
        agent: keepAlive ? this.agent : false,
        headers: keepAlive ? {} : { connection: 'close' },
        timeout: this.c.requestTimeoutMs,
      }, (res) => {
        s.status[i] = res.statusCode ?? 0;
        const v = res.headers['x-bench-version'];
        const pid = Number(res.headers['x-bench-pid']);
        s.version[i] = typeof v === 'string' ? this.versions.index(v) : -1;
        s.generation[i] = Number(res.headers['x-bench-generation'] ?? 0) || 0;
        s.worker[i] = Number.isInteger(pid) && pid > 0 ? this.workers.index(pid) : -1;
        res.on('data', () => {});
        res.on('end', () => finish(ANSWERED));
        res.on('error', (err: NodeJS.ErrnoException) => finish(FAILED, `response ${err.code ?? err.message}`, err.message));
        res.on('close', () => {
          if (!res.complete) finish(FAILED, 'response truncated', 'the connection closed before the response was complete');
        });
      });
      this.live.add(req);
      if (keepAlive) {
        req.on('socket', (sock) => {
          const last = this.lastUsed.get(sock);
          if (last !== undefined) s.socketIdle[i] = now() - last;
        });
      }
      req.on('timeout', () => {
        const err: NodeJS.ErrnoException = new Error(`no answer within ${this.c.requestTimeoutMs} ms`);
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.message === 'socket hang up' ? 'ECONNRESET (socket hang up)' : (err.code ?? err.message);
        finish(FAILED, code, err.message);
      });
      req.end();
    });
  }

  /** One closed loop; a fresh loop opens a connection of its own for every request. */
  private async loop(fresh: boolean): Promise<void> {
    const deadline = this.startedAt + this.c.durationMs;
    const freshShare = 1 - this.c.keepAliveShare;
    while (!this.stopRequested) {
      if (now() >= deadline) {
        this.stopRequested = true;
        this.stopReason = 'duration';
        break;
      }
      if (this.sent >= this.c.maxRequests) {
        this.stopRequested = true;
        this.stopReason = 'maxRequests';
        break;
      }
      this.sent++;
      // deterministic mix: exactly the asked share of requests on connections of their own
      let keepAlive = !fresh;
      if (keepAlive) this.freshDebt += freshShare;
      if (keepAlive && this.freshDebt >= 1 - 1e-9) {
        this.freshDebt -= 1;
        keepAlive = false;
      }
      await this.one(this.store.add(), keepAlive);
    }
  }

  async execute(): Promise<RunRecords> {
    this.startedAt = now();
    this.progressTimer = setInterval(() => {
      send({ type: 'progress', id: this.c.id, sent: this.sent, answered: this.answered, failed: this.failed, non2xx: this.non2xx });
    }, 250);
    const loops: Promise<void>[] = [];
    for (let k = 0; k < this.c.connections; k++) loops.push(this.loop(k < this.c.freshLoops));
    // stoppedAt: when the first loop saw the stop condition (then no request is sent any more)
    const stopped = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (this.stopRequested) {
          clearInterval(t);
          resolve();
        }
      }, 2);
    });
    await stopped;
    this.stoppedAt = now();
    let settleTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(loops),
      new Promise<void>((r) => {
        settleTimer = setTimeout(r, this.c.settleMs);
      }),
    ]);
    if (settleTimer) clearTimeout(settleTimer);
    this.frozen = true;
    const frozenAt = now();
    clearInterval(this.progressTimer);
    send({ type: 'progress', id: this.c.id, sent: this.sent, answered: this.answered, failed: this.failed, non2xx: this.non2xx });
    for (const req of this.live) req.destroy();
    this.agent.destroy();
    const s = this.store;
    const n = s.n;
    let pending = 0;
    for (let i = 0; i < n; i++) if (s.outcome[i] === PENDING) pending++;
    if (pending + this.answered + this.failed !== n) throw new Error(`bookkeeping: ${n} sent, ${this.answered} answered, ${this.failed} failed, ${pending} in flight`);
    return {
      type: 'result',
      id: this.c.id,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      frozenAt,
      stopReason: this.stopReason,
      n,
      sendAt: s.sendAt.slice(0, n),
      latency: s.latency.slice(0, n),
      outcome: s.outcome.slice(0, n),
      status: s.status.slice(0, n),
      version: s.version.slice(0, n),
      generation: s.generation.slice(0, n),
      worker: s.worker.slice(0, n),
      error: s.error.slice(0, n),
      keepAlive: s.keepAlive.slice(0, n),
      socketIdle: s.socketIdle.slice(0, n),
      versions: this.versions.keys(),
      workerPids: this.workers.keys(),
      errorCodes: this.codes.keys(),
      errorSamples: this.samples,
    };
  }
}

let current: Run | undefined;

process.on('message', (m: ToLoadgen) => {
  if (m.type === 'run') {
    if (current) {
      send({ type: 'fatal', message: 'a run is already in progress' });
      return;
    }
    const run = new Run(m);
    current = run;
    run.execute().then((r) => {
      current = undefined;
      send(r);
    }, (err: Error) => send({ type: 'fatal', message: err.stack ?? err.message }));
  } else if (m.type === 'stop') {
    current?.stop();
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'progress', id: '', sent: 0, answered: 0, failed: 0, non2xx: 0 });
