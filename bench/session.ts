// One bench run's resources: the temporary app directory, the load generator, every server
// started (killed by pid at the end, or at once on SIGINT/SIGTERM), every load run with what it
// was, and the progress line. The phases (boot, steady, upgrades) work through it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { descendants, now, sleep, type RunRecords } from './common';
import { treeCpuMs } from './procfs';
import type { Config } from './flags';
import { Loadgen, type LoadCommand } from './loadgen-client';
import type { LoadSpec, TargetName } from './loads';
import { ProgressLine } from './progress';
import { ServerProc } from './servers';
import { carries, taggedProcesses } from './strays';
import { round } from './stats';
import { SERVING_TIMEOUT, writeVersion } from './takeover';

const APP = path.join(__dirname, 'app.js');
const HOST = '127.0.0.1';

export interface Started {
  s: ServerProc;
  port: number;
  bootMs: number;
  target: TargetName;
  workers: number;
}

/** A finished load run and what it ran against. */
export interface RunEntry {
  r: RunRecords;
  label: string;
  phase: 'warm-up' | 'steady' | 'upgrades';
  load: LoadSpec['name'];
  target: TargetName;
  workers: number;
}

export class Session {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-bench-'));
  readonly app = path.join(this.dir, 'app.js');
  readonly servers: ServerProc[] = [];
  readonly runs: RunEntry[] = [];
  /** Other processes the bench started (each wrk), killed by pid if the bench is interrupted. */
  readonly helpers = new Set<number>();
  readonly lg = new Loadgen();
  readonly progress: ProgressLine;
  private interrupted = false;
  private readonly emergency = (sig: NodeJS.Signals): void => this.abort(sig);

  constructor(readonly cfg: Config, t0: number) {
    fs.copyFileSync(APP, this.app);
    writeVersion(this.dir, 'v0');
    this.progress = new ProgressLine(() => this.lg.progress, t0);
    process.on('SIGINT', this.emergency);
    process.on('SIGTERM', this.emergency);
  }

  log(s: string): void {
    process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${s}\n`);
  }

  // every process of every server carries BENCH_RUN (inherited by masters and workers), so that
  // processes the servers never named are found too (bench/strays.ts)
  tagged(expected?: Set<number>): number[] {
    return taggedProcesses('BENCH_RUN', this.dir, expected);
  }

  /** A pid a server named that runs now and is still ours (not reused by another process). */
  ours(pid: number): boolean {
    return carries(pid, 'BENCH_RUN', this.dir);
  }

  /** `how`: pinned and in a session of its own (bench/servers.ts), for the price-per-core matrix. */
  async start(name: string, target: TargetName, workers: number, how: ConstructorParameters<typeof ServerProc>[4] = {}): Promise<Started> {
    const env: Record<string, string> = {
      BENCH_RUN: this.dir,
      BENCH_MODE: target === 'cluster-none' ? 'cluster' : target === 'baton-uncounted' ? 'baton' : target,
      BATON_DIST: this.cfg.dist,
      BENCH_WORKERS: String(workers),
      BENCH_DELAY: String(this.cfg.delayMs),
    };
    // Node's own switch for the bare clusters, set either way so that the caller's environment does not decide
    if (target === 'cluster' || target === 'cluster-none') env.NODE_CLUSTER_SCHED_POLICY = target === 'cluster' ? 'rr' : 'none';
    // baton's switch for its per-response counting (metrics, canary): on unless this says off
    env.BATON_REQUEST_STATS = target === 'baton-uncounted' ? 'off' : 'on';
    const s = new ServerProc(name, this.app, this.dir, env, how);
    this.servers.push(s);
    const { port, serving } = await s.ready(SERVING_TIMEOUT);
    const want = target === 'cluster' ? 'rr' : 'none';
    if ((target === 'cluster' || target === 'cluster-none') && serving.policy !== want) {
      throw new Error(`${name}: the bare cluster runs with scheduling policy ${String(serving.policy)}, not ${want}`);
    }
    return { s, port, bootMs: round(serving.t - s.spawnedAt), target, workers: target === 'single' ? 1 : workers };
  }

  async stop(s: ServerProc): Promise<void> {
    const left = await s.kill();
    if (left.length > 0) this.log(`warning: ${s.name}: still running after SIGKILL: ${left.join(', ')}`);
  }

  command(port: number, load: LoadSpec, durationMs: number): LoadCommand {
    const c = this.cfg;
    return {
      host: HOST, port, durationMs, maxRequests: c.maxRequests, connections: load.connections, freshLoops: load.freshLoops,
      keepAliveShare: load.keepAliveShare, requestTimeoutMs: c.requestTimeoutMs, settleMs: c.requestTimeoutMs + 1000,
    };
  }

  private record(r: RunRecords, to: Started, load: LoadSpec, phase: RunEntry['phase'], label: string): RunRecords {
    this.runs.push({ r, label, phase, load: load.name, target: to.target, workers: to.workers });
    this.progress.account(r);
    return r;
  }

  /** One load run of `durationS` seconds against a server. */
  async load(to: Started, load: LoadSpec, durationS: number, phase: RunEntry['phase']): Promise<RunRecords> {
    const cpu0 = treeCpuMs(to.s.pid, descendants);
    const run = this.lg.run(this.command(to.port, load, durationS * 1000));
    const r = await run.done;
    const cpu1 = treeCpuMs(to.s.pid, descendants);
    r.serverCpuMs = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
    return this.record(r, to, load, phase, this.progress.phase);
  }

  /**
   * A load run that lasts while `during` does (at most boundMs); `during` gets the epoch ms the
   * run was started at, just after asking the load generator for it.
   */
  async loadWhile(to: Started, load: LoadSpec, boundMs: number, phase: RunEntry['phase'], during: (base: number) => Promise<void>): Promise<RunRecords> {
    const label = this.progress.phase;
    const run = this.lg.run(this.command(to.port, load, boundMs));
    try {
      await during(now());
    } finally {
      this.lg.stop(run.id);
    }
    return this.record(await run.done, to, load, phase, label);
  }

  /** Kills every server (every pid it named, and their descendants). */
  async stopAll(): Promise<void> {
    for (const s of this.servers) await s.kill();
  }

  private killTagged(): void {
    for (const pid of this.tagged()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  async close(): Promise<void> {
    this.progress.stop();
    await this.stopAll();
    this.killTagged();
    this.lg.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('SIGINT', this.emergency);
    process.removeListener('SIGTERM', this.emergency);
  }

  private abort(sig: NodeJS.Signals): void {
    if (this.interrupted) return;
    this.interrupted = true;
    process.stderr.write(`\n${sig}: killing every process the bench started\n`);
    for (const s of this.servers) s.killNow();
    this.killTagged();
    for (const pid of this.helpers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      this.lg.proc.kill('SIGKILL');
    } catch {
      // gone
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    process.exit(130);
  }
}

/** Sleeps until `ms` have passed since `from` (epoch ms). */
export async function until(from: number, ms: number): Promise<void> {
  const rest = ms - (now() - from);
  if (rest > 0) await sleep(rest);
}
